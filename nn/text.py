"""Text for the GPT: the names dataset and a character-level tokenizer with one BOS token.

The names (32,033 of them, one per line, lower case) are those of karpathy/makemore,
shipped in nn/datasets/names.txt under the MIT licence in nn/datasets/names.LICENSE.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from importlib import resources

__all__ = ["load_names", "CharTokenizer"]


def load_names() -> list[str]:
    """The names dataset, in the file's order: 32,033 lower-case names."""
    text = resources.files("nn").joinpath("datasets", "names.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.strip().split("\n") if line.strip()]


class CharTokenizer:
    """One token per character of the documents, in sorted order, and a last token BOS that frames each document.

    `encode("emma")` is [BOS, e, m, m, a, BOS]: the model learns to begin a name
    after BOS and to end one by predicting BOS (microgpt's framing).

    Args:
        documents: the texts whose characters make the vocabulary.
    """

    def __init__(self, documents: Iterable[str]) -> None:
        self.chars = sorted(set("".join(documents)))
        if not self.chars:
            raise ValueError("CharTokenizer: the documents have no characters")
        self.bos = len(self.chars)
        self._ids = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        """The number of tokens: every character, and BOS."""
        return len(self.chars) + 1

    def encode(self, document: str) -> list[int]:
        """[BOS, the characters' ids..., BOS]."""
        ids = []
        for i, ch in enumerate(document):
            if ch not in self._ids:
                raise ValueError(f"CharTokenizer: character {ch!r} at {i} of {document!r} is not in the vocabulary")
            ids.append(self._ids[ch])
        return [self.bos, *ids, self.bos]

    def decode(self, tokens: Sequence[int]) -> str:
        """The text of character tokens (BOS, wherever it is, is left out)."""
        out = []
        for token in tokens:
            if token == self.bos:
                continue
            if isinstance(token, bool) or not isinstance(token, numbers.Integral) or not 0 <= token < self.bos:
                raise ValueError(f"CharTokenizer: token {token!r} is not in the vocabulary [0, {self.vocab_size})")
            out.append(self.chars[token])
        return "".join(out)
