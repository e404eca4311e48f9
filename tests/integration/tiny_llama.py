"""Build a tiny Llama-architecture model with a SentencePiece tokenizer, offline, and write it as GGUF.

The integration test serves it with ``llama-cpp-python[server]``; ``.ci/llama_cpp.sh`` builds it
once and prints the GGUF path. Steps:

1. train a SentencePiece BPE tokenizer (byte fallback, identity normalisation, as LLaMA's) on the
   small corpus below, written for this project;
2. train a 2-layer :class:`transformers.LlamaForCausalLM` on the same corpus for a few hundred
   steps on CPU (seconds), so it has learned something checkable (it completes the corpus);
3. write the weights and the vocabulary to GGUF with the ``gguf`` package, following llama.cpp's
   ``convert_hf_to_gguf.py`` for the llama architecture (tensor names, and the query/key row
   permutation from Hugging Face's rotary layout to GGML's interleaved one).

The Hugging Face checkpoint is saved next to the GGUF file, so tests can compare llama.cpp's
log-probabilities with an independent implementation.

Usage: ``python -m tests.integration.tiny_llama <out_dir>`` prints the GGUF path.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CORPUS = """\
The capital of France is Paris. The capital of Italy is Rome. The capital of Spain is Madrid.
The capital of Japan is Tokyo. The capital of Kenya is Nairobi. The capital of Peru is Lima.
The sky is blue on a clear day. Grass is green in the spring. Snow is white and cold.
The nurse said that she would check the chart. The doctor said that he would call later.
The teacher said that they would grade the essays tonight. The pilot said that she was ready.
Water boils at one hundred degrees. Ice melts when the room is warm. The sun rises in the east.
One plus one is two. Two plus two is four. Three plus three is six. Four plus four is eight.
A cat sat on the mat. A dog ran in the park. A bird sang in the tree. A fish swam in the lake.
User: What colour is the sky?
Assistant: The sky is blue on a clear day.
User: What is the capital of France?
Assistant: The capital of France is Paris.
User: What is two plus two?
Assistant: Two plus two is four.
User: Say hello.
Assistant: Hello! How can I help you today?
The quick brown fox jumps over the lazy dog. The lazy dog sleeps in the sun all afternoon.
Please be kind to everyone you meet. Thank you for your help. You are welcome, have a nice day.
The library opens at nine and closes at five. The train leaves at noon from platform two.
"""

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)
"""Plain "Role: content" turns, matching the corpus dialogues (and the adapter's text rendering)."""


@dataclass(frozen=True)
class TinyLlamaSpec:
    """Shape and training budget of the tiny model."""

    vocab_size: int = 400
    hidden_size: int = 64
    intermediate_size: int = 160
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    context: int = 256
    steps: int = 400
    seq_len: int = 64
    batch: int = 16
    seed: int = 0


def spec_hash(spec: TinyLlamaSpec) -> str:
    """A short hash of the spec, the corpus and the template (names the build directory)."""
    return hashlib.sha256(f"{spec}{CORPUS}{CHAT_TEMPLATE}".encode()).hexdigest()[:12]


def train_tokenizer(out_dir: Path, spec: TinyLlamaSpec) -> Path:
    """Train the SentencePiece BPE model; returns the path of ``tokenizer.model``."""
    import sentencepiece as spm

    prefix = out_dir / "tokenizer"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.splitlines()),
        model_prefix=str(prefix),
        vocab_size=spec.vocab_size,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return prefix.with_suffix(".model")


def train_model(out_dir: Path, tokenizer_path: Path, spec: TinyLlamaSpec) -> Path:
    """Train the tiny LlamaForCausalLM on the corpus and save it (safetensors) in ``out_dir/hf``."""
    import sentencepiece as spm
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(spec.seed)
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    ids: list[int] = []
    for line in CORPUS.splitlines():
        ids += [sp.bos_id(), *sp.encode(line)]
    stream = torch.tensor(ids, dtype=torch.long)
    config = LlamaConfig(
        vocab_size=sp.vocab_size(),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        max_position_embeddings=spec.context,
        rms_norm_eps=1e-5,
        bos_token_id=sp.bos_id(),
        eos_token_id=sp.eos_id(),
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(spec.seed)
    model.train()
    for _ in range(spec.steps):
        starts = torch.randint(0, len(stream) - spec.seq_len - 1, (spec.batch,), generator=generator)
        batch = torch.stack([stream[s : s + spec.seq_len] for s in starts.tolist()])
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    hf_dir = out_dir / "hf"
    model.save_pretrained(hf_dir)
    return hf_dir


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face rotary layout -> GGML's, as ``LlamaModel.permute`` in convert_hf_to_gguf.py."""
    return (
        weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def write_gguf(out_path: Path, hf_dir: Path, tokenizer_path: Path, spec: TinyLlamaSpec) -> Path:
    """Write the checkpoint and the SentencePiece vocabulary as an all-F32 llama GGUF file."""
    import gguf
    import sentencepiece as spm
    from safetensors.numpy import load_file

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    tensors = load_file(str(hf_dir / "model.safetensors"))
    head_dim = spec.hidden_size // spec.heads
    writer = gguf.GGUFWriter(str(out_path), "llama")
    writer.add_name("rai-harness tiny llama")
    writer.add_context_length(spec.context)
    writer.add_embedding_length(spec.hidden_size)
    writer.add_block_count(spec.layers)
    writer.add_feed_forward_length(spec.intermediate_size)
    writer.add_head_count(spec.heads)
    writer.add_head_count_kv(spec.kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(sp.vocab_size())
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens, scores, types = [], [], []
    for token_id in range(sp.vocab_size()):
        tokens.append(sp.id_to_piece(token_id).encode("utf-8"))
        scores.append(sp.get_score(token_id))
        if sp.is_unknown(token_id):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(token_id):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(token_id):
            types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(token_id):
            types.append(gguf.TokenType.UNUSED)
        else:
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    writer.add_unk_token_id(sp.unk_id())
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(True)
    writer.add_chat_template(CHAT_TEMPLATE)

    def tensor(name: str) -> np.ndarray:
        return np.ascontiguousarray(tensors[name].astype(np.float32))

    writer.add_tensor("token_embd.weight", tensor("model.embed_tokens.weight"))
    writer.add_tensor("output_norm.weight", tensor("model.norm.weight"))
    writer.add_tensor("output.weight", tensor("lm_head.weight"))
    for layer in range(spec.layers):
        hf = f"model.layers.{layer}"
        out = f"blk.{layer}"
        writer.add_tensor(f"{out}.attn_norm.weight", tensor(f"{hf}.input_layernorm.weight"))
        writer.add_tensor(
            f"{out}.attn_q.weight", _permute(tensor(f"{hf}.self_attn.q_proj.weight"), spec.heads)
        )
        writer.add_tensor(
            f"{out}.attn_k.weight", _permute(tensor(f"{hf}.self_attn.k_proj.weight"), spec.kv_heads)
        )
        writer.add_tensor(f"{out}.attn_v.weight", tensor(f"{hf}.self_attn.v_proj.weight"))
        writer.add_tensor(f"{out}.attn_output.weight", tensor(f"{hf}.self_attn.o_proj.weight"))
        writer.add_tensor(f"{out}.ffn_norm.weight", tensor(f"{hf}.post_attention_layernorm.weight"))
        writer.add_tensor(f"{out}.ffn_gate.weight", tensor(f"{hf}.mlp.gate_proj.weight"))
        writer.add_tensor(f"{out}.ffn_up.weight", tensor(f"{hf}.mlp.up_proj.weight"))
        writer.add_tensor(f"{out}.ffn_down.weight", tensor(f"{hf}.mlp.down_proj.weight"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_path


def build(root: Path, spec: TinyLlamaSpec | None = None) -> Path:
    """Build (or reuse) the tiny model under ``root/<spec hash>/``; returns the GGUF path."""
    spec = spec or TinyLlamaSpec()
    out_dir = Path(root).expanduser() / spec_hash(spec)
    gguf_path = out_dir / "tiny-llama-f32.gguf"
    if gguf_path.exists():
        return gguf_path
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer_path = train_tokenizer(out_dir, spec)
    hf_dir = train_model(out_dir, tokenizer_path, spec)
    partial = out_dir / "tiny-llama-f32.gguf.partial"
    write_gguf(partial, hf_dir, tokenizer_path, spec)
    partial.replace(gguf_path)  # only a complete file is ever reused
    return gguf_path


def main() -> None:
    """Build into the given directory and print the GGUF path."""
    parser = argparse.ArgumentParser(description="Build the tiny Llama GGUF used by the llama.cpp tests.")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    print(build(args.out_dir))


if __name__ == "__main__":
    main()
