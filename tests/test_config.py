"""Configuration: a bad entry stops start-up naming the file, the entry and the problem."""
import shutil

import pytest

from kszws.config import ConfigError, load_settings
from kszws.registry import load_registry
from tests.netfixture import ROOT


@pytest.fixture
def conf(tmp_path):
    for folder in ("conf", "wsdl", "xsd"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path / "conf"


def test_project_configuration_loads():
    settings = load_settings(ROOT / "conf")
    registry = load_registry(settings)
    assert registry.hub.id == "kszws-hub"
    assert {i.auth for i in registry.clients()} == {"signature", "basic", "client-cert"}
    assert registry.services["TestConnectionService"].path.startswith("/SOA4520/")
    assert settings.store_url.startswith("sqlite:///")


def _broken(conf, filename, old, new):
    path = conf / filename
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_registry(load_settings(conf))
    return info.value


def test_bad_enterprise_number(conf):
    err = _broken(conf, "institutions.toml", 'cbe = "0212310036"', 'cbe = "0212310037"')
    assert err.path.endswith("institutions.toml") and "cpas-eupen" in err.entry
    assert "enterprise number" in err.problem


def test_unknown_sector(conf):
    err = _broken(conf, "institutions.toml", "sector = 18", "sector = 99")
    assert "onem-rva" in err.entry and "99.0" in err.problem


def test_unknown_auth_mode(conf):
    err = _broken(conf, "institutions.toml", 'auth = "basic"', 'auth = "password"')
    assert "cpas-liege" in err.entry and "auth must be one of" in err.problem


def test_typo_in_a_key(conf):
    err = _broken(conf, "institutions.toml", 'auth = "basic"', 'auht = "basic"')
    assert "unknown key(s): auht" in err.problem


def test_missing_wsdl(conf):
    err = _broken(conf, "services.toml", 'wsdl = "wsdl/TestConnectionService.wsdl"',
                  'wsdl = "wsdl/Missing.wsdl"')
    assert err.path.endswith("services.toml") and "TestConnectionService" in err.entry
    assert "not found" in err.problem


def test_route_to_nowhere(conf):
    err = _broken(conf, "services.toml", 'wsdl = "wsdl/TestConnectionService.wsdl"',
                  'wsdl = "wsdl/TestConnectionService.wsdl"\nroute = "nowhere"')
    assert "route" in err.problem


def test_invalid_toml(conf):
    err = _broken(conf, "sectors.toml", "[[sector]]", "[[sector")
    assert err.path.endswith("sectors.toml") and "not valid TOML" in err.problem


def test_settings_errors_name_the_table(conf):
    path = conf / "kszws.toml"
    path.write_text(path.read_text().replace("workers = 1", 'workers = "two"'))
    with pytest.raises(ConfigError) as info:
        load_settings(conf)
    assert info.value.entry == "[server]" and "workers" in info.value.problem


def test_a_tls_port_needs_a_certificate(conf):
    """tls_port serves HTTPS beside plain HTTP: without a certificate and key it cannot."""
    path = conf / "kszws.toml"
    path.write_text(path.read_text().replace("tls_port = 0", "tls_port = 8443"))
    with pytest.raises(ConfigError) as info:
        load_settings(conf)
    assert info.value.entry == "[server]" and "tls_certificate" in info.value.problem
    text = path.read_text().replace('tls_certificate = ""', 'tls_certificate = "certs/h.crt"')
    path.write_text(text.replace('tls_key = ""', 'tls_key = "certs/h.key"'))
    settings = load_settings(conf)
    assert settings.tls_port == 8443 and not settings.main_port_is_https


def test_cli_reports_configuration_errors(conf, capsys):
    from kszws.cli import main

    path = conf / "institutions.toml"
    path.write_text(path.read_text().replace("sector = 18", "sector = 99"))
    with pytest.raises(SystemExit) as info:
        main(["--conf", str(conf), "pki", "init"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "institutions.toml" in err and "onem-rva" in err and "sector 99.0" in err


def test_sectors_match_the_official_cbss_list(cbss):
    """Every sector of conf/sectors.toml is in the official list (codes/, latin-1, ';')."""
    rows = (cbss / "codes" / "lino_lijst_van_sectoren_liste_des_secteurs.csv") \
        .read_text("latin-1").splitlines()[2:]
    official, sector = set(), None
    for line in rows:
        cells = line.split(";")
        if len(cells) < 3 or not cells[1].strip().isdigit():
            continue
        if cells[0].strip():
            sector = int(cells[0])
        official.add((sector, int(cells[1])))
    registry = load_registry(load_settings(ROOT / "conf"))
    assert set(registry.sectors) <= official


def test_how_an_institution_receives_its_mutations(conf):
    err = _broken(conf, "institutions.toml", 'id = "cpas-eupen"\n',
                  'id = "cpas-eupen"\nmutations = "fax"\n')
    assert "cpas-eupen" in err.entry and "mutations must be one of mailbox, batch" in err.problem


def _batch(conf):
    from kszws import batch

    settings = load_settings(conf)
    return batch.load(settings, load_registry(settings))


def test_an_institution_on_batch_needs_a_drop_box_and_the_cutoff_a_time(conf):
    institutions = conf / "institutions.toml"
    institutions.write_text(institutions.read_text().replace(
        'id = "cpas-namur"\n', 'id = "cpas-namur"\nmutations = "batch"\n', 1))
    with pytest.raises(ConfigError) as info:
        _batch(conf)
    assert "cpas-namur receives its mutations by batch" in info.value.problem
    institutions.write_text(institutions.read_text().replace(  # Eupen has a [[sender]]
        'id = "cpas-namur"\nmutations = "batch"\n', 'id = "cpas-namur"\n', 1).replace(
        'id = "cpas-eupen"\n', 'id = "cpas-eupen"\nmutations = "batch"\n', 1))
    box = conf / "batch.toml"
    box.write_text(box.read_text().replace('cutoff = "00:00"', 'cutoff = "23:30"'))
    import datetime

    assert _batch(conf).muta_cutoff == datetime.time(23, 30)
    box.write_text(box.read_text().replace('cutoff = "23:30"', 'cutoff = "midnight"'))
    with pytest.raises(ConfigError) as info:
        _batch(conf)
    assert "cutoff must be a time" in info.value.problem
