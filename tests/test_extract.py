from pipelines.crawl.extract import candidates_from_page, parse_page
from pipelines.crawl.transforms import decode_html
from schemas import Candidate, Page, Rejection

HTML = """<html lang="fr"><head><title>Titre</title><base href="/media/"></head><body>
<figure><img src="a.jpg" alt="un chat noir"><figcaption>Le chat de la voisine</figcaption></figure>
<p>Avant <img srcset="s.jpg 100w, l.jpg 800w" src="s.jpg" alt="un chien"> après</p>
<img data-src="lazy.jpg" alt="chargé plus tard">
<img src="data:image/gif;base64,R0lGOD" alt="pixel">
<img src="logo.svg" alt="le logo du site">
<img src="b.jpg" alt="">
<a href="../autre.html#haut">autre</a><a href="mailto:x@example.com">mail</a>
</body></html>"""


def test_parse_page_resolves_urls_and_text():
    page = parse_page(HTML, "http://site.test/dir/page.html")
    assert page.title == "Titre" and page.lang == "fr"
    assert page.links == ["http://site.test/autre.html"]
    srcs = [i.src for i in page.images]
    assert srcs[:3] == ["http://site.test/media/a.jpg", "http://site.test/media/l.jpg",
                        "http://site.test/media/lazy.jpg"]
    assert page.images[0].context == "Le chat de la voisine"
    assert page.images[1].context == "Avant après"


def test_candidates_and_rejection_reasons():
    page = Page(url="http://site.test/dir/page.html", depth=0, html=HTML)
    out = list(candidates_from_page(page, parse_page(page.html, page.url)))
    kept = [c for c in out if isinstance(c, Candidate)]
    reasons = sorted(r.reason for r in out if isinstance(r, Rejection))
    assert [c.alt_text for c in kept] == ["un chat noir", "un chien", "chargé plus tard"]
    assert reasons == ["data_uri", "no_alt_text", "svg"]
    assert len(out) == 6


def test_noai_page_rejects_every_image():
    html = HTML.replace("<head>", '<head><meta name="robots" content="noai">')
    page = Page(url="http://site.test/p.html", depth=0, html=html)
    out = list(candidates_from_page(page, parse_page(html, page.url)))
    assert {r.reason for r in out} == {"noai"} and len(out) == 6
    header_page = Page(url="http://site.test/p.html", depth=0, html=HTML, x_robots_tag="noimageai")
    assert {r.reason for r in candidates_from_page(header_page, parse_page(HTML, page.url))} == {"noai"}


def test_decode_html_charsets():
    text = "Привет, мир"
    assert decode_html(text.encode("windows-1251"), "text/html; charset=windows-1251") == text
    meta = '<meta charset="gb2312"><p>你好</p>'.encode("gb2312")
    assert "你好" in decode_html(meta, "text/html")
