"""YAML numbers that remember how they were written, so text fields get the text.

PyYAML reads YAML 1.1, where an unquoted ``00127`` is the octal number 87, ``0x1F`` is 31,
``1.10`` is 1.1 and ``12:30`` is 750 (base 60). Commune codes are zero-padded five-digit
strings, and link names, targets and team names are whatever the operator typed, quoted or
not. So the loader builds every number YAML resolves as an ``int``/``float`` that also
keeps its text: a numeric field gets the number YAML meant (``interval: 010`` stays 8, as
every YAML tool reads it), and a text field gets the text as written, because every config
model (``netmon.config.site.Strict``) turns numbers into text with ``str()``, which is the
written text here. Whether a scalar is a number or a name is decided by the model, once,
where it is validated, instead of by YAML's guess.

Truth words (``yes``, ``on``, ...) and dates stay YAML's ``bool``/``date``: a text field
given one refuses it with a hint to quote it (``netmon.config.loader``).
"""

from __future__ import annotations

import yaml


class WrittenInt(int):
    """An int from YAML; ``str()`` gives the scalar as written (``00127``, not ``87``)."""

    written: str

    def __new__(cls, value: int, written: str) -> WrittenInt:
        number = super().__new__(cls, value)
        number.written = written
        return number

    def __str__(self) -> str:
        return self.written

    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]  # copy/pickle keep the text
        return int(self), self.written


class WrittenFloat(float):
    """A float from YAML; ``str()`` gives the scalar as written (``1.10``, not ``1.1``)."""

    written: str

    def __new__(cls, value: float, written: str) -> WrittenFloat:
        number = super().__new__(cls, value)
        number.written = written
        return number

    def __str__(self) -> str:
        return self.written

    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]
        return float(self), self.written


class WrittenLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose numbers are ``WrittenInt``/``WrittenFloat``."""

    def construct_written_int(self, node: yaml.ScalarNode) -> WrittenInt:
        return WrittenInt(self.construct_yaml_int(node), str(node.value))

    def construct_written_float(self, node: yaml.ScalarNode) -> WrittenFloat:
        return WrittenFloat(self.construct_yaml_float(node), str(node.value))


WrittenLoader.add_constructor("tag:yaml.org,2002:int", WrittenLoader.construct_written_int)
WrittenLoader.add_constructor("tag:yaml.org,2002:float", WrittenLoader.construct_written_float)


def _represent_int(dumper: yaml.SafeDumper, data: WrittenInt) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:int", data.written)


def _represent_float(dumper: yaml.SafeDumper, data: WrittenFloat) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:float", data.written)


# Raw data read with WrittenLoader (the demo merges a file's mapping into its own config) is
# dumped again as written: read back, it means what the original meant.
yaml.add_representer(WrittenInt, _represent_int, Dumper=yaml.SafeDumper)
yaml.add_representer(WrittenFloat, _represent_float, Dumper=yaml.SafeDumper)
