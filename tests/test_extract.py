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


def _reasons(html: str, url: str = "http://site.test/p.html") -> list:
    """(image URL, alt) of each candidate, or the rejection reason, in tag order."""
    page = Page(url=url, depth=0, html=html)
    return [(c.image_url, c.alt_text) if isinstance(c, Candidate) else c.reason
            for c in candidates_from_page(page, parse_page(html, url))]


def test_only_http_and_https_images_become_candidates():
    html = """<img src="ftp://files.test/a.jpg" alt="a file on ftp">
    <img src="javascript:void(0)" alt="a script, not a picture">
    <img src="blob:https://site.test/5e1f" alt="a blob made by a script">
    <img src=" data:image/png;base64,iVBOR" alt="inline, after a space">
    <img src="DATA:image/gif;base64,R0lGOD" alt="inline, in capitals">
    <img src="HTTPS://cdn.test/b.jpg" alt="upper-case scheme, still https">
    <img src="//cdn.test/c.jpg" alt="protocol-relative, https like the page">"""
    assert _reasons(html, "https://site.test/p.html") == [
        "unsupported_scheme", "unsupported_scheme", "unsupported_scheme", "data_uri", "data_uri",
        ("https://cdn.test/b.jpg", "upper-case scheme, still https"),
        ("https://cdn.test/c.jpg", "protocol-relative, https like the page")]


def test_img_without_a_source_is_no_src():
    assert _reasons('<img alt="no src at all"><img src="" alt="an empty src">'
                    '<img src="   " data-src="" alt="only spaces">') == ["no_src"] * 3


def test_lazy_loaded_images_take_the_real_url_not_the_placeholder():
    """WordPress (rocket-lazy-load) and lazysizes keep the real image in data-* attributes and
    a data: placeholder in src until a script runs."""
    placeholder = "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'%3E%3C/svg%3E"
    html = f"""<img src="{placeholder}" data-lazy-src="/a.png" alt="lazy, one URL">
    <img src="{placeholder}" data-lazy-srcset="/b-300.png 300w, /b.png 900w" data-lazy-src="/b-300.png" alt="lazy srcset">
    <img src="/tiny.gif" data-srcset="/c-2x.jpg 2x, /c.jpg 1x" alt="lazysizes srcset">
    <img src="/d.jpg" data-src="{placeholder}" alt="a placeholder in data-src">"""
    assert _reasons(html) == [("http://site.test/a.png", "lazy, one URL"),
                              ("http://site.test/b.png", "lazy srcset"),
                              ("http://site.test/c-2x.jpg", "lazysizes srcset"),
                              ("http://site.test/d.jpg", "a placeholder in data-src")]


def test_an_image_url_is_taken_once_per_page():
    """A lazy image and its <noscript> copy, or a logo in header and footer: the first usable
    tag wins, so no two candidates of a page share a pair id."""
    html = """<img src="/logo.png" alt=""><img src="/logo.png" alt="The shop's logo">
    <img src="/a.jpg" data-lazy-src="/p.jpg" alt="a red kettle">
    <noscript><img src="/p.jpg" alt="a red kettle"></noscript>
    <img src="/logo.png" alt="The shop's logo, again">"""
    out = _reasons(html)
    assert out == ["no_alt_text", ("http://site.test/logo.png", "The shop's logo"),
                   ("http://site.test/p.jpg", "a red kettle"), "duplicate_on_page",
                   "duplicate_on_page"]


def _encyclopaedia_page(captions: list[str]) -> str:
    """A MediaWiki-style article: thumbnails with an empty alt and a real caption, the way
    encyclopaedia pages mark them up, then a gallery of the same kind."""
    thumbs = "".join(
        f'<div class="thumb tright"><div class="thumbinner"><a href="/wiki/File:{i}.jpg" '
        f'class="image"><img alt="" src="/upload/thumb/{i}.jpg" width="220"></a>'
        f'<div class="thumbcaption"><div class="magnify"><a href="/wiki/File:{i}.jpg"></a>'
        f'</div>{c}</div></div></div><p>Paragraph {i} of the article.</p>'
        for i, c in enumerate(captions[:-1]))
    gallery = (f'<ul class="gallery"><li class="gallerybox"><div class="thumb"><img alt="" '
               f'src="/upload/gallery.jpg"></div><div class="gallerytext"><p>{captions[-1]}'
               f'</p></div></li></ul>')
    return f"<html><head><title>Lighthouse</title></head><body><h1>Lighthouse</h1>{thumbs}{gallery}</body></html>"


def test_captioned_thumbnails_with_an_empty_alt_are_pairs_with_their_caption():
    captions = ["The lighthouse at dusk, seen from the harbour wall",
                "Its Fresnel lens, installed in 1854",
                "Keepers' cottages beside the tower",
                "The lighthouse in a winter storm"]
    page = Page(url="https://wiki.test/wiki/Lighthouse", depth=0,
                html=_encyclopaedia_page(captions))
    out = list(candidates_from_page(page, parse_page(page.html, page.url)))
    assert all(isinstance(c, Candidate) for c in out)
    assert [(c.alt_text, c.text_source) for c in out] == [(t, "caption") for t in captions]
    assert [c.image_url.rsplit("/", 1)[1] for c in out] == ["0.jpg", "1.jpg", "2.jpg",
                                                          "gallery.jpg"]
    assert all(c.context_text == "" for c in out)  # the caption is the text, not repeated


def test_text_source_prefers_alt_then_caption_then_title():
    html = ('<body><figure><img src="/a.jpg" alt="a red kite in flight" title="Kite">'
            '<figcaption>Red kite over the valley</figcaption></figure>'
            '<figure><img src="/b.jpg" alt="" title="Kite"><figcaption>Red kite nesting'
            '</figcaption></figure><p><img src="/c.jpg" title="A heron by the river"></p>'
            '<p><img src="/d.jpg" alt=""></p></body>')
    page = Page(url="https://birds.test/", depth=0, html=html)
    out = list(candidates_from_page(page, parse_page(html, page.url)))
    assert [(o.alt_text, o.text_source, o.context_text) for o in out[:3]] == [
        ("a red kite in flight", "alt", "Red kite over the valley"),
        ("Red kite nesting", "caption", ""),
        ("A heron by the river", "title", "")]
    assert isinstance(out[3], Rejection) and out[3].reason == "no_alt_text"
