"""`postroom domains add` and `list`, run as an operator runs them (the group on its own)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from postroom.cli.domains import domains


def test_add_prints_the_dns_record_and_list_shows_it(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(domains, ["add", "Example.COM.", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    name = re.search(r"^Name:  (postroom-\d{8}-[0-9a-f]{4})\._domainkey\.example\.com$", result.output, re.M)
    value = re.search(r"^Value: (v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,})$", result.output, re.M)
    assert name and value, result.output
    assert "Type:  TXT" in result.output and "TXT record" in result.output

    listed = runner.invoke(domains, ["list", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("example.com  (added ")
    assert f"{name.group(1)}._domainkey.example.com" in listed.output and value.group(1) in listed.output


def test_list_with_no_domains_says_how_to_add_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(domains, ["list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "postroom domains add" in result.output


def test_a_second_add_and_a_bad_name_fail_with_a_message(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(domains, ["add", "example.com", "--data-dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(domains, ["add", "EXAMPLE.com", "--data-dir", str(tmp_path)])
    assert again.exit_code == 1 and "already been added" in again.output
    bad = runner.invoke(domains, ["add", "not a domain", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1 and "not a valid domain name" in bad.output
