"""Search: Chinese and Latin substrings, emails, phone fragments, record numbers, ranking, the index."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import Lead, SearchDocument, SearchGram, SearchGramStat, SearchPhoneGram
from crm_store.records import bulk, merge
from crm_store.records import lifecycle as records
from crm_store.search import documents, query, terms
from crm_store.search import index as search_index


def add(session: Session, module: str, **values: Any) -> Any:
    """Create a record (`records.create` indexes it)."""
    return records.create(session, module, values)


def found(session: Session, term: str, **kw: Any) -> list[str]:
    """Record numbers found for `term`, best first."""
    return [r.number for r in query.search(session, term, **kw)]


def explain(session: Session, stmt: ClauseElement) -> str:
    """The database's plan for a statement, one line per step."""
    conn = session.connection()
    compiled = stmt.compile(conn, compile_kwargs={"render_postcompile": True})
    if conn.dialect.name == "sqlite":
        params = tuple(compiled.params[k] for k in compiled.positiontup or ())
        return "\n".join(row[-1] for row in conn.exec_driver_sql("explain query plan " + str(compiled), params))
    return "\n".join(row[0] for row in conn.exec_driver_sql("explain " + str(compiled), compiled.params))


# -- terms, without a database -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("typed", "text", "digits", "number"),
    [
        ("  王小 ", "王小", None, None),
        ("ＳＭＩＴＨ", "smith", None, None),  # full-width letters (NFKC)
        ("John   Smith", "john smith", None, None),
        ("0912-345-678", "0912-345-678", "0912345678", None),
        ("+886 912 345 678", "+886 912 345 678", "0912345678", None),
        ("(02) 2345", "(02) 2345", "022345", None),
        ("234", "234", None, None),  # three digits are not a phone fragment
        ("lea12", "lea12", None, "LEA12"),
        ("POT7", "pot7", None, "POT7"),
    ],
)
def test_terms_are_normalised(typed: str, text: str, digits: str | None, number: str | None) -> None:
    assert terms.Term.parse(typed) == terms.Term(text, digits, number)


def test_one_character_is_too_short_unless_it_is_chinese() -> None:
    assert terms.Term.parse("a") is None
    assert terms.Term.parse("7") is None
    assert terms.Term.parse("  ") is None
    assert terms.Term.parse(" 王 ") == terms.Term("王")  # a family name
    assert terms.text_grams("\n王\n王小明\nwang\n") >= {"王", "王小明", "小明", "wan"}  # a one-character name too
    assert "w" not in terms.text_grams("\nw\n")


def test_one_chinese_character_finds_the_names_and_words_it_begins(session: Session) -> None:
    ming = add(session, "leads", last_name="王", first_name="小明")
    alone = add(session, "leads", last_name="王")  # a name of one character
    company = add(session, "accounts", name="王氏企業有限公司")
    word = add(session, "leads", last_name="Chen", company="台北 王牌貿易")
    add(session, "leads", last_name="老王")  # 王 ends the name: not a family name
    add(session, "leads", last_name="汪", first_name="王明")  # in the middle of a name
    add(session, "leads", last_name="Wang", company="三王")
    session.flush()
    hits = query.search(session, "王")
    assert {r.number for r in hits} == {ming.lead_no, alone.lead_no, company.account_no, word.lead_no}
    assert hits[0].number == alone.lead_no and hits[0].match == "exact"
    assert {r.match for r in hits[1:]} == {"prefix"}
    assert found(session, "王", modules=["accounts"]) == [company.account_no]
    assert found(session, "x") == []


def test_document_holds_both_name_orders_and_national_phone_digits() -> None:
    row = type("Row", (), dict(id=1, number="LEA1", is_open=True, first_name="Ann", name="Lee", company="ACME Ltd",
                               email="Ann.Lee@Example.com", email2=None, phone="+886223456789",
                               mobile="+14155550100", owner_id=7))
    doc = documents.build_document("leads", row)
    assert doc["body"] == "\nann lee\nlee ann\nacme ltd\nann.lee@example.com\n"
    assert doc["phones"] == "\n0223456789\n04155550100\n"
    assert doc["owner_id"] == 7
    assert documents.describe("leads", row) == ("Ann Lee", "ACME Ltd · Ann.Lee@Example.com")
    assert {"ann", "nn ", "ee", "td", "om"} <= terms.text_grams(doc["body"])
    assert terms.phone_grams(doc["phones"]) >= {223, 2234, 6789, 415, 4155, 100}  # "0223", ..., "0100"
    assert terms.phone_grams("\n022\n") == set()


# -- finding records -----------------------------------------------------------------------------------

def test_two_character_chinese_names(session: Session) -> None:
    ming = add(session, "leads", last_name="王", first_name="小明")
    datong = add(session, "leads", last_name="王", first_name="大同")
    li = add(session, "contacts", last_name="李", first_name="小明")
    whole = add(session, "leads", last_name="陳小明")  # the whole name typed into one field
    assert found(session, "王小") == [ming.lead_no]
    assert set(found(session, "小明")) == {ming.lead_no, li.contact_no, whole.lead_no}
    assert found(session, "王小明") == [ming.lead_no]
    assert set(found(session, "王")) == {ming.lead_no, datong.lead_no}  # one character: the family name
    assert found(session, "明") == []  # one character that begins no name


def test_latin_substrings_both_name_orders_and_company(session: Session) -> None:
    john = add(session, "leads", first_name="John", last_name="Smith", company="Acme Trading")
    add(session, "leads", first_name="Mary", last_name="Jones")
    for term in ("ohn sm", "Smith John", "SMITH", "acme", "ading", "mi"):
        assert found(session, term) == [john.lead_no], term
    assert found(session, "smithe") == []


def test_email_parts(session: Session) -> None:
    ming = add(session, "contacts", last_name="Wang", email="ming.wang@example.com")
    add(session, "contacts", last_name="Lee", email="amy_lee@other.org")
    for term in ("ming.wang", "wang@exa", "example.com", "MING.WANG@EXAMPLE.COM"):
        assert found(session, term) == [ming.contact_no], term
    assert found(session, "amy_l") != found(session, "amy%l")  # LIKE wildcards in a term are literal
    assert found(session, "amy%l") == []
    assert query.search(session, "ming.wang@example.com")[0].match == "exact"


def test_phone_fragments_of_four_or_more_digits(session: Session) -> None:
    lead = add(session, "leads", last_name="Lin", phone="(02) 2345-6789", mobile="0912 345 678")
    add(session, "leads", last_name="Wu", phone="+1 415 555 0100")
    for term in ("2345", "0912", "912345", "0912-345-678", "+886 912 345 678", "022345 6789"):
        assert found(session, term) == [lead.lead_no], term
    assert found(session, "234") == []  # three digits do not match phone numbers
    assert query.search(session, "0912345678")[0].match == "exact"
    assert query.search(session, "0912")[0].match == "prefix"
    assert query.search(session, "345678")[0].match == "substring"


def test_record_numbers(session: Session) -> None:
    leads = [add(session, "leads", last_name=f"Number {i}") for i in range(13)]
    account = add(session, "accounts", name="Numbers Inc")
    twelve = leads[11].lead_no
    assert twelve == "LEA12"
    for term in ("LEA12", "lea12", " Lea12 "):
        results = query.search(session, term)
        assert (results[0].number, results[0].match) == ("LEA12", "exact")
        assert [r.number for r in results] == ["LEA12"]
    assert found(session, "LEA1")[0] == "LEA1"
    assert set(found(session, "LEA1")) == {"LEA1", "LEA10", "LEA11", "LEA12", "LEA13"}
    assert found(session, account.account_no) == [account.account_no]


def test_ranked_exact_then_prefix_then_substring(session: Session) -> None:
    # Created best first, so the newest record is the weakest match: rank beats age.
    exact = add(session, "accounts", name="Tang")
    prefix = add(session, "accounts", name="Tangent Ltd")
    word = add(session, "accounts", name="Big Tang Foods")
    inside = add(session, "accounts", name="Mustang Co")
    results = query.search(session, "tang")
    # A word's start counts as a prefix too; within a rank the newer record comes first.
    assert [r.number for r in results] == [exact.account_no, word.account_no, prefix.account_no, inside.account_no]
    assert [r.match for r in results] == ["exact", "prefix", "prefix", "substring"]


def test_open_records_first_then_newest(session: Session) -> None:
    old_open = add(session, "leads", last_name="Chen", first_name="Old", status="Contacted")
    junk = add(session, "leads", last_name="Chen", first_name="Junk", status="Junk Lead")
    new_open = add(session, "leads", last_name="Chen", first_name="New", status="Hot")
    cold = add(session, "leads", last_name="Chen", first_name="Cold", status="Cold")
    won = add(session, "opportunities", name="Chen supply", expected_close_date="2027-01-01", stage="Closed Won")
    open_opp = add(session, "opportunities", name="Chen upgrade", expected_close_date="2027-01-01")
    results = query.search(session, "chen")
    assert [r.number for r in results] == [
        open_opp.opportunity_no, new_open.lead_no, old_open.lead_no, won.opportunity_no, cold.lead_no, junk.lead_no,
    ]
    assert [r.is_open for r in results] == [True, True, True, False, False, False]


def test_deleted_records_are_excluded(session: Session) -> None:
    lead = add(session, "leads", last_name="Deleted", first_name="Dora")
    assert found(session, "dora") == [lead.lead_no]
    records.delete(session, lead)
    assert found(session, "dora") == []
    assert session.scalar(select(func.count()).select_from(SearchGram)) == 0
    records.restore(session, lead)
    assert found(session, "dora") == [lead.lead_no]
    records.delete(session, lead)
    search_index.rebuild_index(session)
    assert found(session, "dora") == []


def test_a_record_deleted_behind_the_index_is_not_shown(session: Session) -> None:
    lead = add(session, "leads", last_name="Stale", first_name="Sam")
    session.execute(update(Lead).where(Lead.id == lead.id).values(deleted_at=func.current_timestamp()))
    assert found(session, "stale") == []  # its document is still there, but the record is not shown
    assert search_index.index_records(session, "leads", [lead.id]) == 1  # and indexing drops the document
    assert session.scalar(select(func.count()).select_from(SearchDocument)) == 0


def test_update_reindexes(session: Session) -> None:
    lead = add(session, "leads", last_name="Huang", company="Old Co", email="huang@old.example")
    records.update(session, lead, {"last_name": "Hwang", "company": "New Co", "email": "hwang@new.example",
                                   "status": "Lost Lead"})
    # records.update re-indexed it: indexing again finds nothing to change
    assert search_index.index_records(session, "leads", [lead.id]) == 0
    assert found(session, "huang") == [] and found(session, "old co") == []
    assert found(session, "hwang@new") == [lead.lead_no]
    assert query.search(session, "new co")[0].is_open is False


def test_renamed_account_reindexes_its_contacts_and_opportunities(session: Session) -> None:
    account = add(session, "accounts", name="Formosa Tea")
    contact = add(session, "contacts", last_name="Kao", account_id=account.id)
    opp = add(session, "opportunities", name="Spring order", account_id=account.id, expected_close_date="2027-01-01")
    assert set(found(session, "formosa")) == {account.account_no, contact.contact_no, opp.opportunity_no}
    records.update(session, account, {"name": "Alishan Tea"})  # re-indexes the account and its dependants
    assert search_index.index_records(session, "accounts", [account.id]) == 0
    assert found(session, "formosa") == []
    assert set(found(session, "alishan")) == {account.account_no, contact.contact_no, opp.opportunity_no}


def test_merged_accounts_carry_their_contacts_to_the_survivors_name(session: Session) -> None:
    survivor = add(session, "accounts", name="Yushan Trading")
    other = add(session, "accounts", name="Yushan Trading Co")
    contact = add(session, "contacts", last_name="Tsai", account_id=other.id)
    assert set(found(session, "trading co")) == {other.account_no, contact.contact_no}
    merge.merge(session, survivor, [other], Actor.system("test"))
    assert found(session, "trading co") == []  # the merged account is binned, its contact moved
    assert set(found(session, "yushan")) == {survivor.account_no, contact.contact_no}


def test_module_filter_and_limit(session: Session) -> None:
    account = add(session, "accounts", name="Harbor Freight")
    contact = add(session, "contacts", last_name="Harbor", account_id=account.id)
    for i in range(5):
        add(session, "leads", last_name=f"Harbor {i}")
    assert found(session, "harbor", modules=["accounts"]) == [account.account_no]
    assert found(session, "ha", modules=["contacts"]) == [contact.contact_no]
    assert len(found(session, "harbor", limit=3)) == 3
    with pytest.raises(ValidationError, match="module"):
        query.search(session, "harbor", modules=["campaigns"])


def test_rebuild_writes_what_incremental_indexing_writes(session: Session) -> None:
    add(session, "leads", first_name="Ann", last_name="Lee", company="ACME", email="ann@acme.example",
        phone="02 2345 6789", mobile="0912 345 678")
    add(session, "leads", last_name="王小明", company="台灣積體電路", status="Junk Lead")
    account = add(session, "accounts", name="Ab", email="a@b.example", phone="+1 415 555 0100")
    add(session, "contacts", first_name="Bo", last_name="Wu", account_id=account.id)
    add(session, "opportunities", name="年度採購 2026-05", account_id=account.id, expected_close_date="2027-01-01")
    incremental = _index_contents(session)
    stats = search_index.rebuild_index(session)
    assert _index_contents(session) == incremental
    assert (stats.documents, stats.grams, stats.phone_grams) == (
        5, len(incremental[1]), len(incremental[2]),
    )
    gram_stats = dict(session.execute(select(SearchGramStat.gram, SearchGramStat.documents)).all())
    assert gram_stats == Counter(gram for _, _, gram in incremental[1])
    assert search_index.rebuild_index(session, "leads") == stats  # a re-check finds nothing to change
    assert dict(session.execute(select(SearchGramStat.gram, SearchGramStat.documents)).all()) == gram_stats


def _index_contents(session: Session) -> tuple[set[Any], set[Any], set[Any]]:
    """Documents and postings by record, not by document id (a rebuild renumbers documents)."""
    doc = SearchDocument
    docs = set(session.execute(select(doc.module, doc.record_id, doc.number, doc.body, doc.phones, doc.is_open)).all())
    grams = set(session.execute(select(doc.module, doc.record_id, SearchGram.gram)
                                .join(SearchGram, SearchGram.document_id == doc.id)).all())
    phones = set(session.execute(select(doc.module, doc.record_id, SearchPhoneGram.gram)
                                 .join(SearchPhoneGram, SearchPhoneGram.document_id == doc.id)).all())
    return docs, grams, phones


# -- the index is used ---------------------------------------------------------------------------------

def test_search_reads_the_index_not_the_records(session: Session, backend: str) -> None:
    for i in range(30):
        add(session, "leads", last_name="王", first_name=f"小{chr(0x4E00 + i)}", mobile=f"0912 345 {i:03}")
    add(session, "contacts", last_name="林", first_name="大王")
    if backend == "postgresql":
        # With a few rows PostgreSQL rightly prefers reading whole tables; forbid that, so the plan shows
        # whether an index *can* answer the query: a plain LIKE still needs a sequential scan.
        session.execute(text("analyze search_documents, search_grams, search_phone_grams"))
        session.execute(select(func.set_config("enable_seqscan", "off", True)))
    like = explain(session, select(Lead.id).where((Lead.last_name + Lead.first_name).like("%王小%")))
    two = explain(session, query.candidates_query(session, terms.Term.parse("王小")))
    longer = explain(session, query.candidates_query(session, terms.Term.parse("王小一"), ["leads"]))
    phone = explain(session, query.candidates_query(session, terms.Term.parse("0912 345")))
    ids = list(session.scalars(query.candidates_query(session, terms.Term.parse("王小"))))
    ranked = explain(session, query.ranked_query(session, terms.Term.parse("王小"), ids))
    if backend == "sqlite":
        assert "SCAN leads" in like  # the check can fail: this is what a scan looks like
        assert "SEARCH g1 USING PRIMARY KEY (gram>? AND gram<?)" in two
        assert "SEARCH g1 USING PRIMARY KEY (gram=?)" in longer and "SEARCH g1 USING PRIMARY KEY (gram=?)" in phone
        for plan in (longer, phone, ranked):
            assert "SEARCH search_documents USING INTEGER PRIMARY KEY (rowid=?)" in plan
        plans = "\n".join((two, longer, phone, ranked))
        assert "SCAN search_documents" not in plans and "SCAN g" not in plans and "SCAN leads" not in plans
    else:
        assert "Seq Scan on leads" in like
        assert "pk_search_grams" in two and "pk_search_grams" in longer and "pk_search_phone_grams" in phone
        assert "pk_search_documents" in longer and "pk_search_documents" in ranked, longer
        assert "Seq Scan" not in "\n".join((two, longer, phone, ranked)), "\n\n".join((two, longer, phone, ranked))
    assert len(query.search(session, "王小", limit=50)) == 30


@pytest.mark.parametrize("rebuilt", [False, True], ids=["counted", "statistics"])
def test_longer_terms_start_from_the_rarest_gram(session: Session, rebuilt: bool) -> None:
    for i in range(40):
        add(session, "accounts", name=f"Common Trading {i}")
    rare = add(session, "accounts", name="Common Xylophone Trading")
    if rebuilt:  # gram counts come from the statistics the rebuild wrote, not from counting postings
        search_index.rebuild_index(session)
        session.execute(update(SearchGramStat).where(SearchGramStat.gram == "ylo").values(documents=0))
    stmt = query.candidates_query(session, terms.Term.parse("xylophone trading"))
    sql = str(stmt.compile(session.connection(), compile_kwargs={"literal_binds": True}))
    driver = re.search(r"g1\.gram = '(.+?)'", sql)
    assert driver is not None
    if rebuilt:
        assert driver[1] == "ylo"
    else:
        assert driver[1] not in terms.text_grams("\ncommon trading 12\n")  # one of the rare grams
    assert found(session, "xylophone trading") == [rare.account_no]


# -- the command ----------------------------------------------------------------------------------------

def columns(text: str) -> int:
    """Terminal columns a string takes (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_command_rebuilds_and_prints_a_table(crm, session: Session) -> None:  # noqa: ANN001
    ctx = bulk.BulkContext.load(session)  # the bulk path (imports) leaves indexing to one rebuild
    bulk.insert_records(session, "leads", [
        {"last_name": "王", "first_name": "小明", "company": "台積電", "mobile": "0912 345 678"},
        {"last_name": "王", "first_name": "小華", "company": "A very long company name that will not fit",
         "status": "Junk Lead"},
    ], ctx)
    bulk.insert_records(session, "accounts", [{"name": "Wang Trading"}], ctx)
    session.commit()
    assert crm("search", "王小").output.startswith("No records match")  # not indexed yet
    assert "Indexed 3 records" in crm("search", "--rebuild").output
    out = crm("search", "王小").output.splitlines()
    assert out[0].split() == ["NUMBER", "MODULE", "NAME", "OWNER", "MATCH", "DETAILS"]
    assert out[1].split()[:4] == ["LEA1", "lead", "王小明", "prefix"] and out[1].endswith("台積電")
    assert out[2].startswith("LEA2") and out[2].endswith("A very long company name that will not fit")
    assert "prefix (closed)" in out[2]
    match_at = {columns(line[: line.index("prefix")]) for line in out[1:3]}
    assert match_at == {columns(out[0][: out[0].index("MATCH")])}  # the columns line up
    assert out[-1] == "2 found."
    assert crm("search", "0912", "--module", "accounts").output.startswith("No records match")
    assert "ACC1" in crm("search", "wang", "--limit", "1").output
    assert "LEA1" in crm("search", "王").output  # one Chinese character: a family name
    short = crm("search", "w", ok=False)
    assert short.exit_code == 1
    assert short.stderr == "error: term: type at least two characters, or one Chinese character (王)\n"
    assert crm("search", ok=False).exit_code == 2


def test_command_shows_each_record_s_owner_and_keeps_emails_whole(crm, session: Session) -> None:  # noqa: ANN001
    from crm_store.staff import users

    lin = users.add_user(session, "lin@example.com", "林美玲", welcome=False)
    email = "wang.xiaoming.of.the.taipei.office@example-trading-company.com.tw"
    add(session, "leads", last_name="王", first_name="小明", company="台北貿易股份有限公司", email=email,
        owner_id=lin.id)
    add(session, "leads", last_name="王", first_name="大同")
    session.commit()
    header, *rows, count = crm("search", "王").output.splitlines()
    owned, unowned = (next(line for line in rows if line.startswith(n)) for n in ("LEA1", "LEA2"))
    assert count == "2 found."
    assert owned.startswith("LEA1") and "林美玲" in owned and owned.endswith(f"台北貿易股份有限公司 · {email}")
    owner_at = columns(header[: header.index("OWNER")])
    assert columns(owned[: owned.index("林美玲")]) == owner_at
    assert columns(unowned[: unowned.index("prefix")]) == columns(header[: header.index("MATCH")])
