"""The redactor finds every PII type, in tricky places, and replaces it with readable typed placeholders."""

from __future__ import annotations

import pytest

from feedbackloop.settings import Settings
from feedbackloop.silver.pii.engine import PackagedSpacyNlpEngine, PiiModelMissing, Redactor
from feedbackloop.silver.pii.evaluate import TARGETS, evaluate
from feedbackloop.silver.pii.testset import build_testset


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize(
    ("text", "country", "language", "secret", "placeholder"),
    [
        pytest.param("Write to jane.doe@gmail.com asap", None, "en", "jane.doe@gmail.com", "[EMAIL_1]", id="email"),
        pytest.param("Call +1 415 555 0134 please", None, "en", "415 555 0134", "[PHONE_1]", id="phone-intl"),
        pytest.param("Ruf an: 030 1234567", "DE", "de", "1234567", "[PHONE_1]", id="phone-national-by-country"),
        pytest.param("Card 4111-1111-1111-1111 was billed", None, "en", "4111", "[CARD_1]", id="card-luhn"),
        pytest.param("IBAN DE89 3704 0044 0532 0130 00 bitte", None, "de", "3704", "[IBAN_1]", id="iban-mod97"),
        pytest.param("Blocked from 203.0.113.77 again", None, "en", "203.0.113.77", "[IP_1]", id="ipv4"),
        pytest.param("From 2001:db8:85a3::8a2e:370:7334 it fails", None, "en", "2001:db8", "[IP_1]", id="ipv6"),
        pytest.param("My account id is ACC-00012345.", None, "en", "00012345", "[ACCOUNT_1]", id="account-id"),
        pytest.param("Kundennummer: KD-88213344", "DE", "de", "88213344", "[ACCOUNT_1]", id="account-id-german"),
        pytest.param("Hi, my name is Priya Raghunathan.", None, "en", "Raghunathan", "[PERSON_1]", id="name"),
        pytest.param(
            "Reset https://app.example/reset?email=jane.doe%40gmail.com&t=1 fails", None, "en", "jane.doe",
            "email=[EMAIL_1]&t=1", id="email-percent-encoded-in-url",
        ),
        pytest.param("Tap tel:+14155550134 nothing", None, "en", "4155550134", "tel:[PHONE_1]", id="phone-in-tel-url"),
        pytest.param(
            "Callback https://x.example/cb?phone=%2B4915123456789&a=1", None, "en", "4915123456789", "phone=[PHONE_1]",
            id="phone-percent-encoded-in-url",
        ),
        pytest.param(
            "Email me:\njane.doe@\nexample.com\nthanks", None, "en", "example.com", "[EMAIL_1]", id="email-split-line"
        ),
        pytest.param("Card:\n4111 1111\n1111 1111\nok", None, "en", "1111", "[CARD_1]", id="card-split-line"),
        pytest.param("Regards,\nMei\nMoreau", None, "en", "Moreau", "[PERSON_1]", id="name-split-line"),
        pytest.param("Ich heiße Jürgen Müller und bin sauer.", "DE", "de", "Müller", "[PERSON_1]", id="name-german"),
        pytest.param("Je m'appelle Chloé Dubois.", "FR", "fr", "Dubois", "[PERSON_1]", id="name-french"),
        pytest.param("Mi correo: ana.garcia@web.de", "ES", "es", "ana.garcia", "[EMAIL_1]", id="email-spanish"),
        pytest.param(
            "Internal: called customer Oliver Okafor on 020 7946 0018, refund to card 5500 0000 0000 0004.",
            "GB", "en", "Okafor", "[PERSON_1]", id="agent-note",
        ),
        pytest.param("Write to jane [at] gmail [dot] com", None, "en", "jane [at]", "[EMAIL_1]", id="email-obfuscated"),
    ],
)  # fmt: skip
def test_pii_is_replaced_by_a_typed_placeholder(
    redactor: Redactor, text: str, country: str | None, language: str, secret: str, placeholder: str
) -> None:
    redacted = redactor.redact_text(text, country=country, language=language)
    assert secret not in redacted
    assert placeholder in redacted


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Updated to version 5.4.0.1 and build 10.2.1.5, still crashing.", id="versions"),
        pytest.param("Order #1234567890 never arrived, tracking 9400111899562537866361.", id="order-numbers"),
        pytest.param("Charged $1,234.56 on 2026-10-03 at 10:30:00, again on 03/10/2026.", id="amounts-dates"),
        pytest.param("Card ending 4242 was declined; 4111 1111 1111 1112 is not a card.", id="luhn-invalid"),
        pytest.param("IBAN DE00 3704 0044 0532 0130 00 has a wrong checksum.", id="iban-invalid"),
        pytest.param("The checkout button does nothing on the Settings screen.", id="plain-feedback"),
    ],
)
def test_look_alikes_are_left_alone(redactor: Redactor, text: str) -> None:
    assert redactor.redact_text(text) == text


def test_same_value_gets_the_same_placeholder_across_a_docs_fields(redactor: Redactor) -> None:
    doc = redactor.redact(
        [[
            "I am Jane Roe, jane@x.org. Jane again: jane@x.org",
            "Hi Jane, we emailed jane@x.org and bob@y.org",
            "Called Jane Roe, refund ok",
        ]]
    )[0]  # fmt: skip
    customer, agent, notes = doc.fields
    assert customer == "I am [PERSON_1], [EMAIL_1]. [PERSON_1] again: [EMAIL_1]"
    assert agent == "Hi [PERSON_1], we emailed [EMAIL_1] and [EMAIL_2]"
    assert notes == "Called [PERSON_1], refund ok"
    assert {(e.placeholder, e.value) for e in doc.entries} >= {("EMAIL_1", "jane@x.org"), ("EMAIL_2", "bob@y.org")}


def test_placeholders_are_numbered_per_doc(redactor: Redactor) -> None:
    first, second = redactor.redact([["a@x.org and b@x.org"], ["c@x.org"]])
    assert first.fields == ["[EMAIL_1] and [EMAIL_2]"]
    assert second.fields == ["[EMAIL_1]"]


def test_missing_fields_stay_missing(redactor: Redactor) -> None:
    doc = redactor.redact([["call 020 7946 0018", None, ""]], countries=["GB"])[0]
    assert doc.fields == ["call [PHONE_1]", None, ""]


def test_a_model_that_is_not_installed_fails_with_the_package_to_install() -> None:
    with pytest.raises(PiiModelMissing, match="never downloaded"):
        PackagedSpacyNlpEngine("en_core_web_xl_not_installed").load()


@pytest.mark.slow
def test_labelled_set_meets_recall_targets(redactor: Redactor, settings: Settings) -> None:
    items = build_testset(settings.datasets_dir, per_type=60, negatives=150)
    result = evaluate(redactor, items)
    assert {tag for item in items for tag in item.tags} >= {"url", "split_line", "non_english", "agent_note"}
    assert set(TARGETS) <= set(result.per_type)
    assert result.failed_targets() == {}
