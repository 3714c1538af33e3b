#!/usr/bin/python3
"""Renders the fields of proto/durable/v1/config.proto as scdoc text.

The comments in config.proto are the one description of every config
field; durabled.conf(5) gets its FIELDS section from here at build time, so
a field added to the schema appears in the page without anyone editing it.

    config_fields.py config.proto > fields.scd

The parser knows the subset of proto3 the schema uses (messages, nested and
top-level enums, scalar, message and enum fields, optional and repeated) and
refuses anything else, so a construct it does not understand fails the
build instead of silently missing from the page.
"""

import re
import sys

FIELD = re.compile(
    r"^(?:(optional|repeated)\s+)?([A-Za-z_][\w.]*)\s+([a-z_][a-z0-9_]*)\s*="
    r"\s*(\d+)\s*(?:\[[^\]]*\])?\s*;\s*(?://\s?(.*))?$")
ENUM_VALUE = re.compile(
    r"^([A-Z_][A-Z0-9_]*)\s*=\s*(-?\d+)\s*(?:\[[^\]]*\])?\s*;\s*(?://\s?(.*))?$")
OPEN = re.compile(r"^(message|enum)\s+([A-Za-z_]\w*)\s*\{$")
SCALARS = {
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32",
    "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "bool",
    "string", "bytes",
}


class Field:
    def __init__(self, label, type_name, name, number, comment, scope):
        self.label = label
        self.type_name = type_name
        self.name = name
        self.number = number
        self.comment = comment  # list of comment lines ("" = paragraph break)
        self.scope = scope      # enclosing message, for resolving enum types
        self.group = [self]     # fields sharing this one's comment


class Message:
    def __init__(self, name, comment):
        self.name = name
        self.comment = comment
        self.fields = []
        self.enums = {}


class Enum:
    def __init__(self, name, comment):
        self.name = name
        self.comment = comment
        self.values = []  # (name, number, comment lines)


def parse(path):
    """Returns (messages in file order, top-level enums by name)."""
    messages = []
    top_enums = {}
    stack = []         # open Message / Enum objects
    comment = []       # pending comment lines
    previous = None    # the field on the line before, if nothing came between
    with open(path, encoding="utf-8") as source:
        for number, raw in enumerate(source, 1):
            line = raw.strip()
            where = f"{path}:{number}"
            if line.startswith("//"):
                text = line[2:]
                comment.append(text[1:] if text.startswith(" ") else text)
                previous = None
                continue
            if not line:
                comment = []
                previous = None
                continue
            if not stack:
                if re.match(r'^(syntax|package|option|import)\b', line):
                    comment = []
                    continue
            opened = OPEN.match(line)
            if opened:
                kind, name = opened.groups()
                item = (Message if kind == "message" else Enum)(name, comment)
                if kind == "message":
                    if stack:
                        raise SystemExit(f"{where}: nested messages are not "
                                         "supported by " + sys.argv[0])
                    messages.append(item)
                elif stack and isinstance(stack[-1], Message):
                    stack[-1].enums[name] = item
                elif not stack:
                    top_enums[name] = item
                else:
                    raise SystemExit(f"{where}: unexpected enum")
                stack.append(item)
                comment = []
                previous = None
                continue
            if line == "}":
                if not stack:
                    raise SystemExit(f"{where}: unbalanced }}")
                stack.pop()
                comment = []
                previous = None
                continue
            scope = stack[-1] if stack else None
            if isinstance(scope, Message):
                field = FIELD.match(line)
                if field:
                    label, type_name, name, tag, trailing = field.groups()
                    lines = list(comment)
                    if trailing:
                        lines.append(trailing)
                    item = Field(label, type_name, name, int(tag), lines,
                                 scope)
                    if not lines and previous is not None:
                        # "uint32 owner_uid = 10; uint32 owner_gid = 11;"
                        # under one comment: documented together.
                        previous.group.append(item)
                        item.group = previous.group
                    scope.fields.append(item)
                    previous = item
                    comment = []
                    continue
            if isinstance(scope, Enum):
                value = ENUM_VALUE.match(line)
                if value:
                    name, tag, trailing = value.groups()
                    lines = list(comment)
                    if trailing:
                        lines.append(trailing)
                    scope.values.append((name, int(tag), lines))
                    comment = []
                    continue
            raise SystemExit(f"{where}: {sys.argv[0]} does not understand "
                             f"this line: {line}")
    if stack:
        raise SystemExit(f"{path}: unterminated {stack[-1].name}")
    return messages, top_enums


def escape(text):
    """Escapes scdoc's inline markup (and a line start it would take as a
    list, table or heading)."""
    text = text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
    if text[:1] in "-.[|:#+":
        text = "\\" + text
    return text


def prose(text):
    """A comment's text for the page: escaped, `code` in bold."""
    return re.sub(r"`([^`]+)`", r"*\1*", escape(text))


def paragraphs(lines):
    """Comment lines to paragraphs: ("text", str) or ("literal", [lines])."""
    result = []
    words = []
    literal = []

    def flush_words():
        if words:
            result.append(("text", " ".join(words)))
            words.clear()

    def flush_literal():
        if literal:
            result.append(("literal", list(literal)))
            literal.clear()

    for line in lines:
        if not line.strip():
            flush_words()
            flush_literal()
        elif line.startswith("  "):
            flush_words()
            literal.append(line[2:])
        else:
            flush_literal()
            words.append(line.strip())
    flush_words()
    flush_literal()
    return result


def emit_comment(out, lines, indent):
    tabs = "\t" * indent
    first = True
    for kind, body in paragraphs(lines):
        if not first:
            out.append("")
        first = False
        if kind == "text":
            out.append(tabs + prose(body))
        else:
            out.append(tabs + "```")
            out.extend(tabs + line for line in body)
            out.append(tabs + "```")
    if first:
        out.append(tabs + "(Not documented in config.proto.)")


def render(path):
    messages, top_enums = parse(path)
    by_name = {message.name: message for message in messages}

    def find_enum(field):
        return field.scope.enums.get(field.type_name) or top_enums.get(
            field.type_name)

    # The root is the message no field refers to (DaemonConfig); the others
    # follow in the order its fields name them, each titled by the field.
    referenced = {field.type_name for message in messages
                  for field in message.fields}
    roots = [message for message in messages if message.name not in referenced]
    if len(roots) != 1:
        raise SystemExit(f"{path}: expected one top-level message, found "
                         f"{[message.name for message in roots]}")
    order = []   # (message, title)
    seen = set()

    def visit(message, title):
        if message.name in seen:
            return
        seen.add(message.name)
        order.append((message, title))
        for field in message.fields:
            if field.type_name in by_name:
                visit(by_name[field.type_name], field.name)

    visit(roots[0], None)
    for message in messages:  # unreachable from the root: still documented
        visit(message, None)

    out = []
    for message, title in order:
        if out:
            out.append("")
        if title is None and message is roots[0]:
            out.append(f"## Top level ({message.name})")
            out.append("")
            out.append("The file itself holds these fields.")
        else:
            heading = f"{title} {{ }}" if title else message.name
            out.append(f"## {escape(heading)} ({message.name})")
            if title:
                out.append("")
                out.append(f"The fields of a *{escape(title)}* block.")
        if message.comment:
            out.append("")
            emit_comment(out, message.comment, 0)
        done = set()
        for field in message.fields:
            if field.name in done:
                continue
            group = field.group
            done.update(member.name for member in group)
            out.append("")
            enum = find_enum(field)
            heads = []
            for member in group:
                if member.type_name in by_name:
                    kind = f"a block ({member.type_name}, below)"
                elif member.type_name in SCALARS:
                    kind = member.type_name
                elif find_enum(member):
                    kind = f"{member.type_name}, one of the names below"
                else:
                    raise SystemExit(f"{path}: field {member.name}: unknown "
                                     f"type {member.type_name}")
                if member.label == "repeated":
                    kind += ", repeatable"
                heads.append(f"*{escape(member.name)}*: {escape(kind)}")
            out.append(", ".join(heads))
            # An enum field without a comment of its own is described by
            # its enum's comment ("FlushStrategy flush = 1;").
            if field.comment or enum is None or not enum.comment:
                emit_comment(out, field.comment, 1)
                if enum is not None and enum.comment:
                    out.append("")
                    emit_comment(out, enum.comment, 1)
            else:
                emit_comment(out, enum.comment, 1)
            if enum is not None:
                for name, number, lines in enum.values:
                    out.append("")
                    mentioned = any("default" in line for line in lines)
                    default = (" (the default)"
                               if number == 0 and not mentioned else "")
                    out.append(f"\t*{escape(name)}*{default}")
                    emit_comment(out, lines, 2)
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 2:
        raise SystemExit(f"usage: {argv[0]} config.proto")
    sys.stdout.write(render(argv[1]))


if __name__ == "__main__":
    main(sys.argv)
