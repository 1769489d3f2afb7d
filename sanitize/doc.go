// Package sanitize cleans user-supplied text fields of an API, on the way
// in, so that HTML pages rendering them later cannot be turned against
// their readers.
//
// # What it defends against
//
//   - Stored cross-site scripting: an item description or name saved by
//     one user and shown in another user's browser. Script, event handler
//     attributes, javascript:, data: and vbscript: links, style (CSS
//     injection, overlays), svg and math (parser-confusion vectors), forms,
//     frames, objects, images and media are removed before the value is
//     stored, however they are cased, encoded with entities, padded with
//     whitespace or control characters, or split across tags.
//   - Markup that escapes its place in the page: Rich output is well-formed
//     HTML (parsed and rendered again), so an unclosed <a> or <blockquote>
//     cannot wrap the rest of the page.
//   - Link abuse: links must be absolute http, https or mailto URLs, not
//     relative (which would act on the site itself), protocol-relative
//     ("//evil.example") or with user info ("https://bank@evil.example"),
//     and every link kept gets rel="nofollow noopener noreferrer" (no
//     search ranking, no window.opener, no Referer).
//   - Ad hoc cleaning: the FastAPI guide calls nh3 by hand in each handler,
//     and a handler that forgets is a hole. Here each field declares what
//     it holds once, in its struct tag, and Sanitizer.Struct (or Decoded,
//     on a decoded JSON body before validation — what fortapi does for
//     every request body) applies all of them; a misspelt tag is an error,
//     not a silently unsanitized field.
//   - Silent data loss: a plain-text field (sanitize:"plain") is kept
//     exactly as sent — "Widget <i>deluxe</i>" stays that — and escaped
//     wherever it is shown (html/template, encoding/json). Only fields
//     declared HTML (sanitize:"rich") or HTML to turn into text
//     (sanitize:"strip") are changed.
//
// # The tags
//
//	sanitize:"plain"  text; kept as sent; escape it on output
//	sanitize:"rich"   HTML; the Rich policy; insert it into pages as is
//	sanitize:"strip"  HTML to become text; the Plain policy (lossy)
//	sanitize:"-"      not looked at
//
// # The two policies
//
// Plain is for input that is HTML and must become text (sanitize:"strip";
// not for text fields, which need nothing: sanitize:"plain"). Its output is plain
// TEXT, not HTML: tags are removed (script and style content dropped),
// entities decoded ("Tom &amp; Jerry" becomes "Tom & Jerry"), repeatedly
// until nothing changes (at most 8 passes), so double-encoded markup such
// as "&amp;lt;script&amp;gt;" is removed as markup too. The consumer
// must escape it on output, as html/template and encoding/json do. As
// defence in depth it never contains '<' followed by a letter, '/', '!' or
// '?' (a space is inserted after such a '<'), so even an unescaped use
// cannot create a tag.
//
// Rich is for formatted fields (descriptions, comments). Its output is
// HTML, safe to insert into a page as is (template.HTML). It keeps p, br,
// hr, b, strong, i, em, u, s, del, ins, sub, sup, mark, small, h1 to h6,
// ul, ol, li, blockquote, q, pre, code and a; no attribute except href on
// a, which must be an absolute http or https URL with a host, or a mailto
// URL. The text of removed elements stays, except for script, style,
// iframe, object, noscript, title and similar, whose content goes too.
//
// Both make the text valid UTF-8 (U+FFFD for invalid bytes), turn "\r\n"
// and "\r" into "\n" and remove the other ASCII control characters except
// tab and newline.
//
// # Usage and defaults
//
// Sanitize on the way in: right after the request body is decoded and
// before the value is validated and stored, so that everything stored is
// clean and every reader (HTML pages, e-mails, exports, other services)
// gets the same value. Sanitizing can change the length (Rich escapes and
// adds rel, removes script), so validate lengths after it: fortapi runs
// Decoded between decoding and validation for every request body whose
// type has sanitize tags. Rich and Plain each build a new
// bluemonday policy and its allowlists: build them once (New builds one of
// each) and share them; they are immutable and safe for concurrent use.
// The package holds no global state: a Sanitizer caches the plan for each
// struct type it has seen, in itself.
//
// Both policies are idempotent: Sanitize(Sanitize(s)) == Sanitize(s), so
// sanitizing stored values again, or twice on the way in, changes nothing.
//
// Input is read as HTML, so in both policies "x<y and y>z" loses "<y and
// y>" as a tag; "x < y", with spaces, stays. Rich returns
// the empty string when the input nests elements more than 512 deep (the
// limit of golang.org/x/net/html). Cap the size of request bodies and
// fields: work is linear in the input, but a megabyte of markup still costs
// a few hundred milliseconds.
package sanitize
