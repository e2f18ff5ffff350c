"""check-config warns about ``classifier.school_contacts`` entries that can never match a post."""

from __future__ import annotations

import subprocess
import sys

import pytest

from classifiers import rules
from monitor.app.checks import check_configuration
from tests.conftest import make_config

USEFUL = ["01632 960000", "+44 1632 960000", "office@example.org", "1 School Lane", "1 school lane",
          "Hill Top Academy, 12 Orchard Road, Hilltown, SW1A 1AA", "SW1A 1AA", "sw1a 1aa"]
NEVER = {
    "": "it is empty",
    "   ": "it is empty",
    "office": "it is not an email address, phone number, postcode or street address with its number",
    "hello world": "it is not an email address, phone number, postcode or street address with its number",
    "Orchard Road": 'street address with its number (such as "12 Orchard Road")',
    "12345": "it is not a phone number the personal-data rule reads",
    "07700 900": "it is not a phone number the personal-data rule reads",
    "+44 999": "it is not a phone number the personal-data rule reads",
    "@@@": "it is not a whole email address",
    "x@y": "it is not a whole email address",
    "AB1 2CD": "it is not a UK postcode",
}


def contact_warnings(contacts, **classifier) -> list[str]:
    config = make_config(None, classifier={"school_contacts": contacts, **classifier})
    warnings, _ = check_configuration(config)
    return [w for w in warnings if w.startswith("classifier.school_contacts")]


def test_contacts_the_rule_can_match_are_accepted():
    assert contact_warnings(USEFUL) == []
    # and each of them is indeed spared by the rule in a post, as listed
    listed = rules.contact_keys(USEFUL)
    post = "Ring the office on 01632 960000, email office@example.org or come to 1 School Lane, SW1A 1AA"
    assert [h for h in rules.check(post, contacts=listed) if h.label == rules.PERSONAL_DATA] == []


@pytest.mark.parametrize("contact", NEVER)
def test_a_contact_that_can_never_match_is_named_with_why(contact):
    (warning,) = contact_warnings(["office@example.org", contact])
    assert warning.startswith(f'classifier.school_contacts[1] = "{contact}" can never match a post: ')
    assert NEVER[contact] in warning


def test_no_warning_when_the_rules_are_off():
    assert contact_warnings(["office"], rules=False) == []


def test_check_config_prints_the_warning(tmp_path):
    config = tmp_path / "monitor.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "monitor.db"}"\n[classifier]\nschool_contacts = ["07700 900"]\n',
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(config), "check-config"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'warning: classifier.school_contacts[0] = "07700 900" can never match a post' in done.stderr
