"""Tokenizers of the real types (byte-level BPE, unigram) with tiny vocabularies, built offline.

The tiny generators need a tokenizer of the class their pipeline expects; downloading the usual
``hf-internal-testing`` ones is not possible here, so these are built from an in-code vocabulary.
"""

from __future__ import annotations

import string


def tiny_roberta_tokenizer(max_length: int = 77):
    """A byte-level BPE tokenizer with no merges (one token per byte): CLAP's tokenizer type."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import RobertaTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {token: i for i, token in enumerate(specials + sorted(ByteLevel.alphabet()))}
    return RobertaTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def tiny_t5_tokenizer(max_length: int = 77):
    """A unigram tokenizer over letters, digits and punctuation: T5's tokenizer type."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in string.ascii_lowercase + string.digits + ",.-'"]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)
