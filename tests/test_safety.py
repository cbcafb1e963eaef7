"""The pure safety verdicts: hash lists, opt-out lists, unsafe terms and personal data."""
import pytest

from quality_filters.pii import find_pii, iban_valid, luhn_valid, redact
from quality_filters.safety import HashList, OptOutList, TermList

SHA = "ab" * 32
MD5 = "cd" * 16
PHASH = "f0f0f0f0f0f0f0f0"


def _flip(hex_hash: str, bits: int) -> str:
    """``hex_hash`` with its lowest ``bits`` bits flipped (one band's worth at most)."""
    return f"{int(hex_hash, 16) ^ ((1 << bits) - 1):016x}"


def test_hash_list_matches_exact_digests_and_near_phashes():
    blocked = HashList.parse([f"sha256:{SHA.upper()}", f"MD5:{MD5}", "", "# note",
                              f"phash:{PHASH}  # trailing comment"], max_distance=6)
    assert len(blocked) == 3
    assert blocked.match(sha256=SHA) == "sha256"
    assert blocked.match(md5=MD5.upper()) == "md5"
    assert blocked.match(sha256="00" * 32, md5="00" * 16) == ""
    assert blocked.match(phash=PHASH) == "phash"
    assert blocked.match(phash=_flip(PHASH, 6)) == "phash"  # 6 bits off: within
    assert blocked.match(phash=_flip(PHASH, 7)) == ""  # 7: beyond
    spread = f"{int(PHASH, 16) ^ 0x0101010101010000:016x}"  # 6 bits, one in each of 6 bands
    assert blocked.match(phash=spread) == "phash"


def test_hash_list_bytes_and_files(tmp_path):
    import hashlib

    data = b"\xff\xd8 not really a jpeg"
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text(f"md5:{hashlib.md5(data).hexdigest()}\n")
    two.write_text(f"sha256:{SHA}\n")
    blocked = HashList.from_files([str(one), str(two)])
    assert blocked.match_bytes(data) == "md5"
    assert blocked.match_bytes(b"other") == ""
    assert blocked.match(sha256=SHA) == "sha256"


@pytest.mark.parametrize("line, message", [
    ("sha1:" + "a" * 40, "is not kind:hex"),
    ("sha256:xyz", "a sha256 is 64 hex digits"),
    ("phash:" + "0" * 15, "a phash is 16 hex digits"),
    (SHA, "is not kind:hex"),
])
def test_hash_list_refuses_a_bad_line_naming_where(line, message):
    with pytest.raises(ValueError, match=rf"lists/x.txt:2: .*{message}"):
        HashList.parse(["# header", line], "lists/x.txt")


def test_opt_out_domains_cover_subdomains_and_prefixes_cover_paths():
    listing = OptOutList.parse(["example.com", "*.Photos.Example.ORG", "Bücher.de",
                                "https://site.net/members/", "# comment"])
    assert listing.match("http://example.com/a.jpg") == "example.com"
    assert listing.match("https://cdn.img.example.com/a.jpg") == "example.com"
    assert listing.match("https://notexample.com/a.jpg") == ""
    assert listing.match("https://example.com.evil.net/") == ""
    assert listing.match("http://photos.example.org./x") == "photos.example.org"
    assert listing.match("http://example.org/x") == ""
    assert listing.match("http://xn--bcher-kva.de/x") == "xn--bcher-kva.de"  # IDN, both ways
    assert listing.match("http://bücher.de/x") == "xn--bcher-kva.de"
    assert listing.match("https://site.net/members/42.jpg") == "https://site.net/members/"
    assert listing.match("https://site.net/public/42.jpg") == ""
    assert not OptOutList() and OptOutList().match("http://example.com/") == ""


def test_opt_out_refuses_what_is_neither_domain_nor_prefix():
    with pytest.raises(ValueError, match="opt.txt:1: 'ftp://x.org/': URL prefixes are http"):
        OptOutList.parse(["ftp://x.org/"], "opt.txt")
    with pytest.raises(ValueError, match="neither a domain"):
        OptOutList.parse(["example.com/path"], "opt.txt")


# (language, text, terms found): Unicode word boundaries where words are spaced, anywhere in
# scripts written without spaces; case and width folded.
TERM_CASES = [
    ("en", "Free PORN videos", ["porn"]),
    ("en", "pornstar biography", []),  # a longer word is not the term
    ("en", "the XXL size; xxx-rated", ["xxx"]),
    ("en", "ＰＯＲＮ in full width", ["porn"]),
    ("en", "Best online\n casino, and a casino bonus", ["online casino", "casino bonus"]),
    ("de", "Kostenlose Sexfilme und Pornos", ["sexfilme", "pornos"]),
    ("fr", "Regardez une vidéo porno", ["vidéo porno"]),
    ("es", "Apuestas deportivas y casino online", ["apuestas deportivas", "casino online"]),
    ("ru", "Смотреть порно бесплатно", ["порно"]),
    ("ru", "порнографическийроман", []),  # spaced script: inside a word is not a match
    ("zh", "最新亚洲无码视频在线观看", ["无码"]),
    ("zh", "香港六合彩开奖结果", ["六合彩", "开奖"]),
    ("en", "a red circle on a blue background", []),
]


@pytest.mark.parametrize("lang, text, found", TERM_CASES)
def test_unsafe_terms_in_many_languages(lang, text, found):
    assert TermList.from_files([]).find(text) == found


def test_users_add_term_files_and_may_drop_the_default(tmp_path):
    extra = tmp_path / "mine.txt"
    extra.write_text("# our words\nForbidden Phrase\n")
    both = TermList.from_files([str(extra)])
    assert both.find("a forbidden   phrase here", "porn") == ["forbidden phrase", "porn"]
    assert TermList.from_files([str(extra)], default=False).find("porn") == []


# (language, text, [(kind, the text found)]).
PII_CASES = [
    ("en", "Call (415) 555-2671 or write to john.doe@example.com",
     [("phone", "(415) 555-2671"), ("email", "john.doe@example.com")]),
    ("en", "Card 4111 1111 1111 1111, exp 12/29", [("card", "4111 1111 1111 1111")]),
    ("en", "Order 4111 1111 1111 1112 shipped", []),  # fails Luhn: not a card
    ("de", "Tel. 030 12345678, IBAN DE89 3704 0044 0532 0130 00",
     [("phone", "030 12345678"), ("iban", "DE89 3704 0044 0532 0130 00")]),
    ("de", "Konto DE89 3704 0044 0532 0130 01", []),  # wrong check digits
    ("fr", "Téléphone : 01 42 68 53 00, courriel marie@exemple.fr",
     [("phone", "01 42 68 53 00"), ("email", "marie@exemple.fr")]),
    ("es", "Llámenos al 912 345 678", [("phone", "912 345 678")]),
    ("ru", "Звоните +7 495 123-45-67, почта иван@пример.рф",
     [("phone", "+7 495 123-45-67"), ("email", "иван@пример.рф")]),
    ("zh", "联系电话：010-6552 9988，服务器 192.168.1.10",
     [("phone", "010-6552 9988"), ("ip", "192.168.1.10")]),
    ("en", "Server 2001:db8::1 at 12:30:45; std::vector; v1.2.3; 999.1.1.1",
     [("ip", "2001:db8::1")]),
    ("ja", "", []),
]


@pytest.mark.parametrize("lang, text, found", PII_CASES)
def test_pii_found_in_many_languages(lang, text, found):
    assert [(s.kind, text[s.start:s.end]) for s in find_pii(text, lang)] == found


def test_an_international_number_is_found_whatever_the_language():
    text = "WhatsApp +49 30 12345678"
    assert [s.kind for s in find_pii(text, "xx")] == ["phone"]
    assert find_pii("call 030 12345678", "xx") == []  # national form: no region to read it in


def test_redact_replaces_each_span_by_its_kind():
    text = "mail a@b.org or +44 20 7946 0958 now"
    assert redact(text, find_pii(text, "en")) == "mail [EMAIL] or [PHONE] now"


def test_checksums():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
