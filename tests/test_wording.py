"""visits/wording.py: every sentence, exact, in pt-BR and English; no services."""

import pytest
from django.utils import translation

from visits import wording
from visits.counting import Counts


def counts(accesses: int, visits: int | None) -> Counts:
    return Counts(
        accesses=accesses, visits=visits, database_product="PostgreSQL", cache_product="Redis"
    )


@pytest.mark.parametrize(
    ("language", "accesses", "sentence"),
    [
        # The exercise's contract: "1 registros", "1 visitas", byte for byte.
        ("pt-br", 1, "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."),
        ("pt-br", 2, "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas."),
        ("en", 1, "PostgreSQL database has 1 record. Redis counts 1 visit."),
        ("en", 2, "PostgreSQL database has 2 records. Redis counts 2 visits."),
    ],
)
def test_count_sentence_keeps_the_contracts_wording(language, accesses, sentence):
    with translation.override(language):
        assert wording.count_sentence(counts(accesses, accesses)) == sentence


@pytest.mark.parametrize(
    ("language", "accesses", "sentence"),
    [
        ("pt-br", 1, "Banco PostgreSQL tem 1 registro. Redis conta 1 visita."),
        ("pt-br", 2, "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas."),
        ("en", 1, "PostgreSQL database has 1 record. Redis counts 1 visit."),
    ],
)
def test_page_sentence_words_plurals_properly(language, accesses, sentence):
    with translation.override(language):
        assert wording.page_sentence(counts(accesses, accesses)) == sentence


@pytest.mark.parametrize("sentence", [wording.count_sentence, wording.page_sentence])
def test_sentences_without_a_visit_count_say_the_counter_is_unavailable(sentence):
    with translation.override("pt-br"):
        said = sentence(counts(3, None))

    assert said == (
        "Banco PostgreSQL tem 3 registros. O contador de visitas do Redis está indisponível "
        "no momento, então esta visita foi registrada, mas não contada."
    )


@pytest.mark.parametrize(
    ("language", "message"),
    [
        (
            "pt-br",
            "O banco de dados PostgreSQL está indisponível no momento; tente novamente em "
            "alguns instantes.",
        ),
        (
            "en",
            "The PostgreSQL database is unavailable right now; please try again in a few moments.",
        ),
    ],
)
def test_database_unavailable(language, message):
    with translation.override(language):
        assert wording.database_unavailable("PostgreSQL") == message


def test_database_too_slow():
    with translation.override("pt-br"):
        assert wording.database_too_slow("PostgreSQL") == (
            "O banco de dados PostgreSQL demorou demais para responder; tente novamente em "
            "alguns instantes."
        )


def test_counter_unavailable_in_english():
    with translation.override("en"):
        assert wording.counter_unavailable("Redis") == (
            "The Redis visit counter is unavailable right now, so this visit was recorded but "
            "not counted."
        )


def test_error_sentences_in_pt_br():
    with translation.override("pt-br"):
        said = [wording.not_acceptable(), wording.page_not_found(), wording.bad_request()]

    assert said == [
        "Esta página está disponível como text/plain, text/html ou application/json; "
        "peça um deles no cabeçalho Accept.",
        "Não há nada neste endereço; confira-o ou comece pela página de visitas.",
        "Não foi possível entender este pedido; confira o endereço e os cabeçalhos e "
        "tente de novo.",
    ]


@pytest.mark.parametrize(
    ("language", "minutes", "message"),
    [
        (
            "en",
            1,
            "Too many failed logins from this address or for this user; try again in 1 minute.",
        ),
        (
            "en",
            15,
            "Too many failed logins from this address or for this user; try again in 15 minutes.",
        ),
        (
            "pt-br",
            1,
            "Login falhou vezes demais a partir deste endereço ou para este usuário; "
            "tente de novo em 1 minuto.",
        ),
    ],
)
def test_login_locked_out_counts_the_minutes(language, minutes, message):
    with translation.override(language):
        assert wording.login_locked_out(minutes) == message
