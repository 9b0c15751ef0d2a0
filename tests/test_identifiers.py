import pytest

from backoffice.identifiers import (InvalidIdentifier, checksum_ok, normalise_bin, normalise_email, normalise_iin,
                                    normalise_phone, with_control_digit)


def test_control_digit_roundtrip():
    iin = with_control_digit("88050130000")
    assert iin and checksum_ok(iin)
    wrong = iin[:11] + str((int(iin[11]) + 1) % 10)
    assert not checksum_ok(wrong)


@pytest.mark.parametrize("value", ["12345", "abcdefghijkl", "1234567890123", ""])
def test_bad_iin_shapes_are_refused(app, value):
    with pytest.raises(InvalidIdentifier):
        normalise_iin(value)


def test_iin_with_wrong_control_digit_is_refused(app):
    iin = with_control_digit("88050130000")
    with pytest.raises(InvalidIdentifier):
        normalise_iin(iin[:11] + str((int(iin[11]) + 1) % 10))
    assert normalise_iin(iin[:6] + " " + iin[6:]) == iin
    assert normalise_bin(iin) == iin


@pytest.mark.parametrize("typed", ["8 701 123 45 67", "+7 (701) 123-45-67", "87011234567", "+77011234567",
                                   "7011234567"])
def test_phone_is_normalised_to_e164(app, typed):
    assert normalise_phone(typed) == "+77011234567"


@pytest.mark.parametrize("typed", ["12", "hello", "+7 000", "8" * 41])
def test_bad_phone_is_refused(app, typed):
    with pytest.raises(InvalidIdentifier):
        normalise_phone(typed)


def test_email_is_lowercased_and_checked(app):
    assert normalise_email(" Aigul@Mail.KZ ") == "aigul@mail.kz"
    for bad in ["no-at-sign", "a@", "@b.kz", "x" * 300 + "@a.kz"]:
        with pytest.raises(InvalidIdentifier):
            normalise_email(bad)
