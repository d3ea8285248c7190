#!/usr/bin/env python3
"""Doxygen's INPUT_FILTER for the public headers (include/actor/*.h), and
the checks Doxygen 1.9.4 cannot make itself.

The headers are written with plain C comments; this filter turns them into
Doxygen comments on the fly, keeping every line where it is (warnings name
the header's own line numbers):

- the comment at the top of the file becomes the file's documentation;
- a `/* ... */` block right before a declaration (no blank line between)
  becomes `/** ... */`. It documents the whole run of declarations that
  follows it up to the next blank line or comment, as the header means it
  ("Every setter below ..."): the run's first function gets the text (else
  its first declaration), the others a "See first()." of their own;
- a `/* ... */` after code on the same line inside a struct or enum (or after
  a declaration's `;`) becomes `/**< ... */` (`size_t a, b; /* ... */`: one
  declaration per field, each with the comment);
- each comment's first sentence (up to a period and white space) is its
  brief (@brief ... @details; Doxygen's own JAVADOC_AUTOBRIEF would end it
  inside "[A-Za-z0-9_.:-]");
- a comment right before preprocessor conditionals documents the macro they
  define that it names (ACTOR_PLUGIN_INIT);
- the section banners (`/* ---- */ /* Title */ /* ---- */`) put what follows
  them into a group (one man page per group, `libactor_*.3`); NAME_RULES
  below move declarations of one concern (time, flow, requests) into its
  group wherever the header declares them. A banner of an unknown title
  makes a group of its own (libactor_<first word>).

A comment followed by a blank line documents nothing; a declaration with no
comment before it is left undocumented, and Doxygen (WARN_IF_UNDOCUMENTED,
WARN_AS_ERROR) then fails the docs target naming its line.

    doxygen-filter.py HEADER              the filtered header on stdout
    doxygen-filter.py --check HEADER...   lists enum values with no doc
                                          comment (Doxygen 1.9.4 does not
                                          warn about them); exits 1 if any
    doxygen-filter.py --prune-man DIR     removes the man links Doxygen makes
                                          for struct fields and anonymous
                                          enums (size.3, @0.3): only
                                          libactor_*, actor_*, addr_*,
                                          ACTOR_* and header pages stay
    doxygen-filter.py --run [--no-fail] DOXYGEN DOXYFILE MANDIR HEADER...
                                          what the docs target runs: --check,
                                          Doxygen, --prune-man; fails if
                                          either found something (unless
                                          --no-fail: Doxygen's WARN_AS_ERROR
                                          is NO then too)
"""
import os
import re
import sys

# Groups, in the order the reference lists them: (id, title, description).
GROUPS = [
    ("libactor_errors", "Errors and version",
     "Result codes (every function that can fail returns ACTOR_OK or one of "
     "them), their descriptions, and the library's version."),
    ("libactor_runtime", "Runtime",
     "Starting, shutting down and freeing a runtime of worker threads."),
    ("libactor_types", "Message types",
     "Named message types with a checked layout; one mailbox carries them all."),
    ("libactor_classes", "Actor classes",
     "An actor's behaviour: lifecycle hooks and handlers per message type."),
    ("libactor_actors", "Actors, addresses and context",
     "Spawning actors, counted addresses, events, interrupt and join, and "
     "what a handler may do through its context."),
    ("libactor_requests", "Requests, responders and promises",
     "Request-response: addr_interact, the awaitable responder (wait, fd, "
     "callback, forward to an actor), replies and deferred replies."),
    ("libactor_time", "Time: timers, deadlines, the manual runtime",
     "Timers owned by an actor, requests with a deadline, and a runtime "
     "with a virtual clock for deterministic tests (1.1)."),
    ("libactor_flow", "Flow: bounded mailboxes, statistics, hooks",
     "Bounded mailboxes and what happens when they are full, per-actor and "
     "per-runtime counters, dead letters and observability hooks (1.1)."),
    ("libactor_composition", "Composition: topics and pools",
     "Publish/subscribe by subject, and pools of actors behind one address (1.1)."),
    ("libactor_failure", "Failure: exit reasons, monitors, supervisors, names",
     "How an actor stops and who hears of it: exit reasons, monitors, "
     "supervisors that restart children in place, registered names (1.1)."),
    ("libactor_plugins", "Plugins and logging",
     "Actor classes in shared objects loaded by path, and the library's log."),
    ("libactor_memory", "Memory",
     "Routing the library's allocations through the program's allocator."),
]

# A banner's title (its start, lower case) -> group. A banner not listed
# makes a group named after its first word.
BANNERS = [
    ("errors", "libactor_errors"),
    ("opaque handles", None),          # each handle goes to its own group (NAME_RULES)
    ("runtime", "libactor_runtime"),
    ("time", "libactor_time"),
    ("message types", "libactor_types"),
    ("actor classes", "libactor_classes"),
    ("spawning", "libactor_actors"),
    ("responders", "libactor_requests"),
    ("composition", "libactor_composition"),
    ("failure", "libactor_failure"),
    ("plugins", "libactor_plugins"),
    ("memory", "libactor_memory"),
]

# A declared name -> group, before the banner's: one concern, one page.
NAME_RULES = [
    (r"timer|deadline|_within$|^actor_runtime_(new_manual|step|run|advance|now_ms)$",
     "libactor_time"),
    (r"stats|hooks|mailbox|MAILBOX|OVERFLOW|send_wait|dropped", "libactor_flow"),
    (r"^(actor_responder\w*|actor_promise\w*|actor_ctx_(reply|defer|tag)|addr_interact)$",
     "libactor_requests"),
    (r"^actor_runtime$", "libactor_runtime"),
    (r"^actor_class$", "libactor_classes"),
    (r"^actor_msgtype$", "libactor_types"),
    (r"^(actor_addr|actor_ctx)$", "libactor_actors"),
]

# Plumbing macros: not part of the reference (Doxyfile EXCLUDE_SYMBOLS too).
PLUMBING = {"ACTOR_API", "ACTOR_NODISCARD", "ACTOR_PLUGIN_VISIBLE", "ACTOR_ACTOR_H"}

DASHES = re.compile(r"^/\* *-{8,} *\*/$")
IDENT = re.compile(r"[A-Za-z_]\w*")


class Comment:
    def __init__(self, start, end, text):
        self.start, self.end = start, end          # offsets of "/*" and past "*/"
        self.body = text[start + 2:end - 2]


class Element:
    """A top-level piece of the header: 'comment', 'blank', 'pp' (a
    preprocessor directive), 'skip' (C++-only code) or 'decl'."""

    def __init__(self, kind, start, end, first_line, last_line):
        self.kind, self.start, self.end = kind, start, end
        self.first_line, self.last_line = first_line, last_line
        self.comment = None      # for 'comment'
        self.comments = []       # for 'decl': comments inside it
        self.code = ""           # for 'decl' and 'pp': the code, comments blanked
        self.name = None
        self.is_function = False


def lex(text):
    """The comments of `text` and a copy of it with every comment character
    (and string literal) blanked (newlines kept), so that code can be read
    by offset."""
    comments = []
    code = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            comments.append(Comment(i, j, text))
            for k in range(i, j):
                if code[k] != "\n":
                    code[k] = " "
            i = j
        elif c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                code[k] = " "
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        else:
            i += 1
    return comments, "".join(code)


def line_starts(text):
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    return starts


def elements(text):
    """Splits the header into top-level elements (see Element)."""
    comments, code = lex(text)
    by_start = {c.start: c for c in comments}
    starts = line_starts(text)
    nlines = len(starts)

    def line_of(off):
        lo, hi = 0, nlines - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= off:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def line_end(ln):
        return starts[ln + 1] - 1 if ln + 1 < nlines else len(text)

    out = []
    cxx_stack = []   # per open #if: True while in a C++-only branch
    ln = 0
    while ln < nlines:
        s, e = starts[ln], line_end(ln)
        line_code = code[s:e]
        stripped = line_code.strip()
        if not stripped:
            # blank, or comments only: one element per comment starting here
            found = False
            off = s
            while off < e:
                if off in by_start:
                    c = by_start[off]
                    el = Element("comment", c.start, c.end, ln, line_of(c.end - 1))
                    el.comment = c
                    out.append(el)
                    found = True
                    off = c.end
                    if off > e:          # a comment over several lines
                        ln = line_of(off - 1)
                        s, e = starts[ln], line_end(ln)
                else:
                    off += 1
            if not found and not text[s:e].strip():
                out.append(Element("blank", s, e, ln, ln))
            ln += 1
            continue
        if stripped.startswith("#"):
            last = ln
            while text[starts[last]:line_end(last)].rstrip().endswith("\\") and last + 1 < nlines:
                last += 1
            el = Element("pp", s, line_end(last), ln, last)
            el.code = code[s:line_end(last)]
            d = re.match(r"\s*#\s*(\w+)(.*)", el.code, re.S)
            directive, rest = (d.group(1), d.group(2)) if d else ("", "")
            if directive in ("if", "ifdef", "ifndef"):
                cxx_stack.append(directive != "ifndef" and "__cplusplus" in rest)
            elif directive in ("else", "elif") and cxx_stack:
                cxx_stack[-1] = False
            elif directive == "endif" and cxx_stack:
                cxx_stack.pop()
            elif directive == "define":
                m = IDENT.match(rest.strip())
                el.name = m.group(0) if m else None
            el.directive = directive
            out.append(el)
            ln = last + 1
            continue
        if any(cxx_stack):
            out.append(Element("skip", s, e, ln, ln))
            ln += 1
            continue
        # a declaration: up to a ';' outside braces and parentheses
        depth = 0
        off = s
        end = None
        while off < len(code):
            ch = code[off]
            if ch in "{(":
                depth += 1
            elif ch in "})":
                depth -= 1
            elif ch == ";" and depth == 0:
                end = off + 1
                break
            off += 1
        if end is None:
            end = len(code)
        last = line_of(end - 1)
        dend = line_end(last)
        el = Element("decl", s, dend, ln, last)
        el.code = code[s:end]
        el.comments = [c for c in comments if s <= c.start < dend]
        name_decl(el)
        out.append(el)
        ln = last + 1
    return out, line_of


def name_decl(el):
    """Sets el.name (the declared name; for an anonymous enum, its first
    value) and el.is_function."""
    code = re.sub(r"\s+", " ", el.code).strip()
    body = None
    if "{" in code:
        head, _, rest = code.partition("{")
        body = rest.rpartition("}")[0]
        tail = rest.rpartition("}")[2]
        names = IDENT.findall(tail)
        if names:
            el.name = names[-1]
        else:
            words = IDENT.findall(head)
            words = [w for w in words if w not in ("typedef", "struct", "union", "enum")]
            el.name = words[-1] if words else None
            if el.name is None and head.strip().startswith("enum"):
                first = IDENT.match(body.strip())
                el.name = first.group(0) if first else None
        el.kind_detail = "enum" if re.match(r"(typedef )?enum\b", code) else "struct"
        el.body = body
        return
    el.kind_detail = "other"
    m = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", code)       # typedef R (*name)(...)
    if m:
        el.name = m.group(1)
        return
    m = re.search(r"(\w+)\s*\(", code)
    if m and not code.startswith("typedef"):
        el.name = m.group(1)
        el.is_function = True
        return
    names = IDENT.findall(code)
    el.name = names[-1] if names else None


def signature(el):
    """The function's declaration as @fn wants it (plumbing macros dropped)."""
    code = re.sub(r"\s+", " ", el.code).strip().rstrip(";").strip()
    words = [w for w in code.split(" ") if w not in PLUMBING]
    return re.sub(r"\( ", "(", " ".join(words))


def banner_group(title, extra):
    t = title.lower()
    for prefix, gid in BANNERS:
        if t.startswith(prefix):
            return gid
    word = IDENT.search(t)
    gid = "libactor_" + (word.group(0) if word else "other")
    if gid not in (g[0] for g in GROUPS) and gid not in extra:
        extra[gid] = re.sub(r"\s*\(1\.\d+\)\s*$", "", title)
    return gid


def group_of(name, banner):
    if name:
        for pattern, gid in NAME_RULES:
            if re.search(pattern, name):
                return gid
    return banner


class Edits:
    def __init__(self):
        self.items = []   # (offset, delete count, insert text)

    def replace(self, off, count, new):
        self.items.append((off, count, new))

    def insert(self, off, new):
        self.items.append((off, 0, new))

    def apply(self, text):
        """Applies the edits from the end; two at one offset land in the
        order they were made."""
        out = text
        order = sorted(range(len(self.items)), key=lambda k: (self.items[k][0], k), reverse=True)
        for k in order:
            off, count, new = self.items[k]
            out = out[:off] + new + out[off + count:]
        return out


MULTI_FIELD = re.compile(r"^(\s*)([A-Za-z_][\w ]*? )(\w+(?:\s*,\s*\w+)+)\s*;\s*$")
ABBREV = re.compile(r"\b(e\.g|i\.e|etc|vs|cf)$")


def brief_details(edits, text, c):
    """Marks the comment's first sentence as its brief: `@brief` before its
    first word, `@details` after the first period followed by white space
    (Doxygen's JAVADOC_AUTOBRIEF would also end it at ".:" or ".'", as in
    "[A-Za-z0-9_.:-]"). Inserted within lines: no line moves."""
    body_start = c.start + 2
    m = re.compile(r"[^\s*]").search(text, body_start, c.end - 2)
    if not m:
        return
    edits.insert(m.start(), "@brief ")
    in_code = False
    for k in range(m.start(), c.end - 2):
        ch = text[k]
        if ch == "`":
            in_code = not in_code
        elif ch == "." and not in_code and text[k + 1].isspace() \
                and not ABBREV.search(text[m.start():k]):
            if text[k + 1:c.end - 2].strip(" \t\n*"):
                edits.insert(k + 1, " @details")
            return


def doc_comment(edits, c, extra_before_end, text, marker="/**"):
    """Turns plain comment c into a doc comment with a brief, inserting
    extra text before its closing */ (on its last line: no line moves)."""
    edits.replace(c.start, 2, marker)
    brief_details(edits, text, c)
    edits.insert(c.end - 2, extra_before_end)


def ref(el):
    return el.name + "()" if el.is_function else el.name


def analyse(text, path="actor.h"):
    """Walks the elements; returns (edits, extra groups, problems), where
    problems are (line, message) of enum values with no doc. Declarations
    before any banner (a header without banners) go to a group of their
    own header, libactor_<name>, titled by the first line of its comment."""
    els, line_of = elements(text)
    edits = Edits()
    extra = {}
    problems = []
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    default = "libactor_" + stem
    title = stem
    banner = default
    i = 0
    n = len(els)
    # The file comment: the first element, when it is a comment.
    if n and els[0].kind == "comment" and not DASHES.match(text[els[0].start:els[0].end]):
        c = els[0].comment
        edits.replace(c.start, 2, "/** @file")
        brief_details(edits, text, c)
        first = [l.strip(" *\t") for l in c.body.split("\n") if l.strip(" *\t")]
        if first:
            title = first[0].rstrip(".")
        i = 1
    if default not in (g[0] for g in GROUPS):
        extra[default] = title
    while i < n:
        el = els[i]
        if el.kind == "comment":
            raw = text[el.start:el.end]
            # a banner: dashes, title, dashes
            if (DASHES.match(raw) and i + 2 < n and els[i + 1].kind == "comment"
                    and els[i + 2].kind == "comment"
                    and DASHES.match(text[els[i + 2].start:els[i + 2].end])):
                title = els[i + 1].comment.body.strip()
                banner = banner_group(title, extra) or default
                i += 3
                continue
            nxt = els[i + 1] if i + 1 < n else None
            if nxt is not None and nxt.kind == "decl":
                run = []
                j = i + 1
                while j < n and (els[j].kind == "decl"
                                 or (els[j].kind == "pp" and els[j].directive == "define")):
                    run.append(els[j])
                    j += 1
                document_run(text, edits, el.comment, run, banner, problems, line_of)
                i = j
                continue
            if nxt is not None and nxt.kind == "pp":
                j = i + 1
                defined = []
                while j < n and els[j].kind in ("pp", "skip"):
                    if els[j].kind == "pp" and els[j].name and els[j].name not in PLUMBING \
                            and els[j].name not in (d.name for d in defined):
                        defined.append(els[j])
                    j += 1
                if defined:
                    body = el.comment.body
                    named = [d for d in defined if re.search(r"\b%s\b" % d.name, body)]
                    principal = (named or defined)[0]
                    g = group_of(principal.name, banner)
                    doc_comment(edits, el.comment, " @ingrp{%s} @def %s " % (g, principal.name),
                                text)
                    for d in defined:
                        if d is not principal:
                            edits.insert(el.comment.end, " /** @brief See %s. @ingrp{%s} @def %s */"
                                         % (principal.name, group_of(d.name, banner), d.name))
                i = j
                continue
            i += 1
            continue
        if el.kind == "decl":
            # undocumented: still mark its trailing comments and check its values
            fields(text, edits, el, problems, line_of, None)
        i += 1
    return edits, extra, problems


def document_run(text, edits, c, run, banner, problems, line_of):
    decls = [d for d in run if d.kind == "decl" or d.name not in PLUMBING]
    if not decls:
        return
    funcs = [d for d in decls if d.kind == "decl" and d.is_function]
    principal = funcs[0] if funcs else decls[0]
    g = group_of(principal.name, banner)
    if principal is decls[0]:
        doc_comment(edits, c, " @ingrp{%s} " % g, text)
    else:
        doc_comment(edits, c, " @ingrp{%s} @fn %s " % (g, signature(principal)), text)
    prev_end = c.end
    for d in decls:
        if d is not principal and d.name:
            gd = group_of(d.name, banner)
            # the doc goes at the end of the line before d (its own line stays as is)
            pos = text.rfind("\n", 0, d.start)
            pos = prev_end if pos < prev_end else pos
            edits.insert(pos, " /** @brief See %s. @ingrp{%s} */" % (ref(principal), gd))
        if d.kind == "decl":
            fields(text, edits, d, problems, line_of, c.body)
        prev_end = d.end


def fields(text, edits, el, problems, line_of, run_doc):
    """Inside a declaration: a comment after code on its line documents
    that code (/**<), a comment on a line of its own the next field (/**).
    For an enum, records the values with no comment (unless the run's
    comment names them). A struct field line declaring several fields of a
    plain type with one comment (`size_t a, b; /* ... */`) becomes one
    declaration per field, each with the comment, on that same line."""
    for c in el.comments:
        ls = text.rfind("\n", 0, c.start) + 1
        m = MULTI_FIELD.match(text[ls:c.start])
        if m and getattr(el, "kind_detail", "") == "struct" and "\n" not in text[c.start:c.end]:
            doc = "/**< @brief" + c.body + "*/"
            names = [x.strip() for x in m.group(3).split(",")]
            edits.replace(ls, c.end - ls, m.group(1) + " ".join(
                "%s%s; %s" % (m.group(2), name, doc) for name in names))
        elif text[ls:c.start].strip():
            edits.replace(c.start, 2, "/**< @brief")
        else:
            edits.replace(c.start, 2, "/**")
            brief_details(edits, text, c)
    if getattr(el, "kind_detail", "") != "enum":
        return
    _, code = lex(text[el.start:el.end])
    ob = code.find("{")
    cb = code.rfind("}")
    if ob < 0 or cb < 0:
        return
    # enum values: identifiers at the start of each comma-separated item
    items = []
    off = ob + 1
    for part in code[ob + 1:cb].split(","):
        m = IDENT.search(part)
        if m:
            vstart = el.start + off + m.start()
            last_code = el.start + off + len(part.rstrip())
            items.append((m.group(0), vstart, last_code))
        off += len(part) + 1
    for k, (name, vstart, last_code) in enumerate(items):
        nxt = items[k + 1][1] if k + 1 < len(items) else el.start + cb
        vline = line_of(vstart)
        documented = False
        for c in el.comments:
            cline = line_of(c.start)
            # trailing: after the value, on the line where the value's item ends
            if vstart < c.start < max(nxt, last_code + 2) and cline in (vline, line_of(last_code)):
                documented = True
            # before it, on a line of its own, right above
            ls = text.rfind("\n", 0, c.start) + 1
            if c.end <= vstart and not text[ls:c.start].strip() \
                    and not text[c.end:vstart].strip():
                documented = True
        if not documented and run_doc and re.search(r"\b%s\b" % name, run_doc):
            documented = True
        if not documented:
            problems.append((vline + 1, "enum value %s is not documented" % name))


def group_defs(extra, own):
    """The @defgroup blocks of the groups a header uses, appended after its
    last line (two headers using one group define it alike: Doxygen merges
    them)."""
    out = []
    for gid, title, desc in GROUPS:
        if gid in own:
            out.append("/** @defgroup %s %s\n * %s\n */\n" % (gid, title, desc))
    for gid, title in extra.items():
        out.append("/** @defgroup %s %s\n * %s.\n */\n" % (gid, title, title))
    return "".join(out)


def filtered(text, path):
    edits, extra, _ = analyse(text, path)
    used = set(re.findall(r"@ingrp\{(\w+)\}", "".join(e[2] for e in edits.items)))
    out = edits.apply(text)
    if not out.endswith("\n"):
        out += "\n"
    out += group_defs({g: t for g, t in extra.items() if g in used}, own=used)
    if os.path.basename(path) == "actor.h":
        out += main_page([g[0] for g in GROUPS if g[0] in used]
                         + [g for g in extra if g in used])
    return out


def main_page(groups):
    """The HTML reference's front page (actor.h's filter output carries it)."""
    return ("/** @mainpage libactor API reference\n"
            " * The C API of libactor, generated from its public headers: "
            "`#include <actor/actor.h>`, link `libactor.so.1` (`pkg-config libactor`, "
            "CMake `libactor::actor`). One page per family of functions "
            "(each is also a man page, `man libactor_requests`):\n *\n"
            + "".join(" * - @ref %s\n" % g for g in groups)
            + " *\n * The rules that hold across all of it are in docs/contract.md, the "
            "Python package's in docs/python.md, and a walk through it in C and Python in "
            "docs/tutorial.md, in the source tree.\n */\n")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def main(argv):
    if len(argv) >= 2 and argv[0] == "--check":
        bad = 0
        for path in argv[1:]:
            _, _, problems = analyse(read(path), path)
            for line, msg in problems:
                print("%s:%d: warning: %s" % (path, line, msg))
            bad += len(problems)
        return 1 if bad else 0
    if len(argv) >= 5 and argv[0] == "--run":
        import subprocess
        no_fail = argv[1] == "--no-fail"
        args = argv[2:] if no_fail else argv[1:]
        if len(args) < 4:
            sys.stderr.write(__doc__)
            return 2
        doxygen, doxyfile, mandir = args[:3]
        headers = args[3:]
        checked = main(["--check"] + headers)
        done = subprocess.call([doxygen, doxyfile])
        if os.path.isdir(mandir):
            main(["--prune-man", mandir])
        if done != 0 or (checked != 0 and not no_fail):
            sys.stderr.write("docs: undocumented declarations (above): every public "
                             "declaration of %s needs a comment right before it (or one "
                             "after it on its line, for a field or enum value)\n"
                             % ", ".join(os.path.basename(h) for h in headers))
            return 1
        return 0
    if len(argv) == 2 and argv[0] == "--prune-man":
        keep = re.compile(r"^(libactor_\w+|actor_\w+|addr_\w+|ACTOR_\w+|\w+\.h)\.3$")
        for name in sorted(os.listdir(argv[1])):
            if not keep.match(name):
                os.remove(os.path.join(argv[1], name))
        return 0
    if len(argv) == 1 and not argv[0].startswith("-"):
        sys.stdout.write(filtered(read(argv[0]), argv[0]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
