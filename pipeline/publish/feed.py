"""The site's Atom feed (RFC 4287): the syntheses published as final, newest approval first.

A reader's feed reader is told of each synthesis once it is approved: a session's draft, which
may still change, is not an entry. Each entry carries the synthesis's title, its approval date
(published and updated), its summary (the key points, « À retenir » once the document has it)
and links to its page and PDF. Links are relative to the feed, resolved against publish.site_url
when it is set (xml:base), else against the feed's own address as readers do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from .. import __version__

__all__ = ["FEED_FILE", "FeedEntry", "atom_feed", "rfc3339"]

FEED_FILE = "feed.xml"
FEED_TYPE = "application/atom+xml"
ATOM = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"


@dataclass(frozen=True)
class FeedEntry:
    key: str  # the session's id, or "cycle": with the feed's identity, the entry's permanent id
    title: str
    approved_at: str  # ISO 8601, as the approval records it
    page: str  # relative to the site's root
    summary_points: Sequence[str] = ()
    summary_text: str = ""  # a paragraph, where there are no points (the cycle's description)
    pdf: str = ""  # relative to the site's root
    pdf_size: int = 0


def rfc3339(value: str) -> str:
    """An ISO 8601 date and time as RFC 3339 asks (seconds and an offset): an approval records
    minutes ('2026-12-07T10:15+01:00'); a time without offset is taken as this computer's."""
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.isoformat(timespec="seconds")


def _urn(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def atom_feed(*, title: str, subtitle: str, author: str, entries: Sequence[FeedEntry], identity: str,
              site_url: str | None, now: dt.datetime | None = None) -> str:
    """The feed as UTF-8 XML text. `identity` names the cycle for good (its site's address or its
    title): the feed's and entries' ids are derived from it, so they never change."""
    ElementTree.register_namespace("", ATOM)

    def add(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
        if text is not None:
            element.text = text
        return element

    ordered = sorted(entries, key=lambda e: rfc3339(e.approved_at), reverse=True)
    feed = ElementTree.Element(f"{{{ATOM}}}feed", {f"{{{XML_NS}}}lang": "fr"})
    if site_url:
        feed.set(f"{{{XML_NS}}}base", site_url)
    feed_id = _urn(f"synthese:{identity}")
    add(feed, "id", feed_id)
    add(feed, "title", title)
    if subtitle:
        add(feed, "subtitle", subtitle)
    # The feed changed when its newest entry did; without any entry, when it was written.
    updated = max((rfc3339(e.approved_at) for e in ordered), default=None)
    add(feed, "updated", updated or (now or dt.datetime.now().astimezone()).isoformat(timespec="seconds"))
    add(add(feed, "author"), "name", author)
    add(feed, "link", rel="self", type=FEED_TYPE, href=FEED_FILE)
    add(feed, "link", rel="alternate", type="text/html", href="index.html")
    add(feed, "generator", "Synthèse", version=__version__)
    for entry in ordered:
        item = add(feed, "entry")
        add(item, "id", _urn(f"{feed_id}/{entry.key}"))
        add(item, "title", entry.title)
        add(item, "published", rfc3339(entry.approved_at))
        add(item, "updated", rfc3339(entry.approved_at))
        add(item, "link", rel="alternate", type="text/html", href=entry.page)
        if entry.pdf:
            add(item, "link", rel="enclosure", type="application/pdf", href=entry.pdf, length=str(entry.pdf_size))
        if entry.summary_points:
            # Escaped HTML (type="html"): a list the reader's feed reader shows as a list.
            points = "".join(f"<li>{_escape(point)}</li>" for point in entry.summary_points)
            add(item, "summary", f"<ul>{points}</ul>", type="html")
        elif entry.summary_text:
            add(item, "summary", entry.summary_text, type="text")
    body = ElementTree.tostring(feed, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"


def _escape(text: str) -> str:
    from html import escape

    return escape(text, quote=False)
