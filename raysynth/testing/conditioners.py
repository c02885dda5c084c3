"""A text conditioner for the tiny AudioGen that pads the way audiocraft's T5 conditioner does.

The tiny model's lookup conditioner (``noop`` tokenizer) gives one token per prompt, so a batch is
never padded and a fault that only padding shows stays hidden. :class:`PaddingWordTokenizer` gives
one token per word plus an end token, pads every prompt of a call to the longest, and masks the
padding and the empty (unconditional) prompts, as ``T5Conditioner.tokenize`` does with
``padding=True``; ``LUTConditioner.forward`` then zeroes the padded embeddings, as T5's does.
"""

from __future__ import annotations

END_TOKEN = 1  # T5's </s> ends every entry, the empty one included


class PaddingWordTokenizer:
    """Words hashed into ``n_bins`` (audiocraft's ``hash_trick``), an end token, right padding with 0."""

    def __init__(self, n_bins: int) -> None:
        self.n_bins = n_bins

    def __call__(self, texts):
        import torch
        from audiocraft.utils.utils import hash_trick

        entries = ["" if text is None else text for text in texts]
        rows = [[hash_trick(word, self.n_bins) for word in entry.split()] + [END_TOKEN] for entry in entries]
        width = max(len(row) for row in rows)
        tokens = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.int)
        for i, (entry, row) in enumerate(zip(entries, rows, strict=True)):
            tokens[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = int(entry != "")  # T5 zeroes the whole mask of an empty entry
        return tokens, mask


def with_padding_conditioner(model):
    """``model`` (an AudioGen with a lookup ``description`` conditioner) with :class:`PaddingWordTokenizer`."""
    conditioner = model.lm.condition_provider.conditioners["description"]
    conditioner.tokenizer = PaddingWordTokenizer(conditioner.embed.num_embeddings)
    return model
