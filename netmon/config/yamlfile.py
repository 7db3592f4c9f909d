"""Parse a YAML config once, into data and a line index, refusing what YAML allows but a config must not.

- A key written twice in one mapping: PyYAML keeps the last one silently, so half an edit
  would win unnoticed. Refused, naming both lines.
- An alias that points at a mapping or list containing it (``a: &x [*x]``): a cycle, which no
  config means and which would recurse forever. Refused at the key holding it.
- An alias bomb (aliases of aliases, "billion laughs"): refused once the document expands to
  more than ``MAX_NODES`` values.
- PyYAML's parser messages (``expected <block end>, but found '<block mapping start>'``) are
  said in words a person editing the file understands, with the line.
"""

from __future__ import annotations

from typing import Any

import yaml

from netmon.config.written import WrittenLoader
from netmon.errors import ConfigError

Index = dict[tuple[int | str, ...], int]
# far above any real config (a registry of 3,321 sites with their links is ~60,000 nodes)
MAX_NODES = 1_000_000

# PyYAML's problem text -> what to tell the person editing the file
_PLAIN = (
    ("expected <block end>, but found '<block mapping start>'",
     "the indentation does not match the lines above (a key indented more than its siblings?)"),
    ("expected <block end>, but found '-'",
     "a list item ('-') indented differently from the items above it"),
    ("expected <block end>, but found '?'", "the indentation does not match the lines above"),
    ("expected <block end>", "the indentation does not match the lines above"),
    ("mapping values are not allowed here",
     "a ':' where a value was expected (the key above is indented wrongly, or a value containing ': ' "
     "needs quotes)"),
    ("found character '\\t' that cannot start any token", "a tab character: indent with spaces"),
    ("could not find expected ':'", "a line that is not 'key: value' (a missing ':' or an unclosed quote?)"),
    ("found unexpected end of stream", "the file ends inside a quoted string (an unclosed quote?)"),
    ("found undefined alias", "an alias (*name) with no anchor (&name) before it"),
)


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.index: Index = {}
        self.nodes = 0

    def walk(self, node: yaml.Node, prefix: tuple[int | str, ...], holder_line: int,
             ancestors: frozenset[int]) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ConfigError(self.file, [(_key(prefix[:1]), holder_line, f"the document expands to more than "
                                           f"{MAX_NODES:,} values through its aliases; refused")])
        if id(node) in ancestors:
            raise ConfigError(self.file, [(_key(prefix), holder_line, "this alias refers to a mapping or list "
                                           "that contains it (a cycle); a config cannot be recursive")])
        self.index.setdefault(prefix, node.start_mark.line + 1)
        inside = ancestors | {id(node)}
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, Any], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *defaults" is resolved by PyYAML
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
                line = key_node.start_mark.line + 1
                if (key_node.tag, key) in seen:
                    first = seen[(key_node.tag, key)]
                    raise ConfigError(self.file, [(_key((*prefix, key)), line,
                                                   f"written twice: on line {first} and on line {line}; "
                                                   "keep one")])
                seen[(key_node.tag, key)] = line
                self.walk(value_node, (*prefix, key), line, inside)
                # a value on the same line as its key reports the key's line, which is what people read
                self.index[(*prefix, key)] = line
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, (*prefix, i), item.start_mark.line + 1, inside)


def _key(loc: tuple[int | str, ...]) -> str:
    from netmon.config.loader import key_path  # loader reads files through this module

    return key_path(loc)


def _plain(exc: yaml.YAMLError) -> tuple[int | None, str]:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    for pyyaml, said in _PLAIN:
        if problem.startswith(pyyaml):
            problem = said
            break
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 1 != line:
        problem += f" ({context.removeprefix('while ')} that starts on line {context_mark.line + 1})"
    return line, f"not valid YAML: {problem}"


def parse(text: str, file: str) -> tuple[Any, Index]:
    """The document's data and the line of every key path in it; ConfigError for what is refused."""
    # numbers keep the text they were written as (netmon.config.written): 00127 stays 00127
    loader = WrittenLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        reader = _Reader(file)
        reader.walk(node, (), node.start_mark.line + 1, frozenset())
        return loader.construct_document(node), reader.index
    except yaml.YAMLError as exc:
        line, message = _plain(exc)
        raise ConfigError(file, [("", line, message)]) from None
    except RecursionError:
        raise ConfigError(file, [("", None, "nested too deeply to be a config")]) from None
    finally:
        loader.dispose()
