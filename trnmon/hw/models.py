"""The model catalog: transformer architectures that jobs run and `trnmon estimate` costs.

Every entry carries its architecture source (the model's published `config.json` or paper).
Parameter counts are computed from the architecture, not copied, so FLOPs, weight bytes and
KV-cache sizes all follow from the same few numbers:

- attention: q and o are hidden x hidden, k and v are hidden x (kv heads x head dim);
- MLP: gated (SwiGLU, Llama/Mixtral) has 3 hidden x ffn matrices, GPT-3's has 2;
- MoE: every layer holds `experts` MLPs and a router; a token passes `active_experts`;
- embeddings: vocab x hidden, twice when the LM head is untied (Llama), once when tied (GPT-3).

The counts land within 0.5 % of the published totals (tested): Llama-3-8B 8.03 B,
Llama-3-70B 70.55 B, Llama-3.1-405B 405.8 B, Mixtral-8x22B 140.6 B total / 39.2 B active.
"""

from __future__ import annotations

from dataclasses import dataclass

BF16 = 2


@dataclass(frozen=True, slots=True)
class ModelArch:
    """One transformer architecture (dense or mixture-of-experts)."""

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int  # intermediate size of one MLP (one expert)
    vocab: int
    source: str
    experts: int = 1
    active_experts: int = 1
    gated_mlp: bool = True  # SwiGLU: gate, up and down projections
    tied_embeddings: bool = False
    max_context: int = 8192

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def moe(self) -> bool:
        return self.experts > 1

    @property
    def attention_params_per_layer(self) -> int:
        return 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_heads * self.head_dim

    @property
    def expert_params(self) -> int:
        """Parameters of one MLP (one expert)."""
        return (3 if self.gated_mlp else 2) * self.hidden * self.ffn

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def router_params_per_layer(self) -> int:
        return self.hidden * self.experts if self.moe else 0

    @property
    def params(self) -> int:
        """All parameters (what the weights occupy)."""
        per_layer = (self.attention_params_per_layer + self.experts * self.expert_params
                     + self.router_params_per_layer)
        return self.layers * per_layer + self.embedding_params

    @property
    def active_params(self) -> int:
        """Parameters one token passes through (what the FLOPs count)."""
        per_layer = (self.attention_params_per_layer + self.active_experts * self.expert_params
                     + self.router_params_per_layer)
        return self.layers * per_layer + self.embedding_params

    @property
    def expert_params_total(self) -> int:
        """Parameters in expert MLPs (sharded over expert parallelism)."""
        return self.layers * self.experts * self.expert_params if self.moe else 0

    def kv_bytes_per_token(self, dtype_bytes: float = BF16) -> float:
        """K and V for one token over all layers: 2 x L x kv heads x head dim x bytes."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * dtype_bytes

    def train_flops_per_token(self, seq_len: int) -> float:
        """Model FLOPs per trained token, PaLM App. B: 6 N_active + 12 L h s."""
        return 6.0 * self.active_params + 12.0 * self.layers * self.hidden * seq_len


_HF = "https://huggingface.co/"

_LLAMA2_7B = ModelArch("llama2-7b", 32, 4096, 32, 32, 11008, 32000,
                       _HF + "meta-llama/Llama-2-7b-hf config.json", max_context=4096)
_LLAMA3_8B = ModelArch("llama3-8b", 32, 4096, 32, 8, 14336, 128256,
                       _HF + "meta-llama/Meta-Llama-3-8B config.json")
_LLAMA3_70B = ModelArch("llama3-70b", 80, 8192, 64, 8, 28672, 128256,
                        _HF + "meta-llama/Meta-Llama-3-70B config.json")

MODEL_ARCHS: tuple[ModelArch, ...] = (
    _LLAMA2_7B,
    ModelArch("llama2-13b", 40, 5120, 40, 40, 13824, 32000,
              _HF + "meta-llama/Llama-2-13b-hf config.json", max_context=4096),
    ModelArch("llama2-70b", 80, 8192, 64, 8, 28672, 32000,
              _HF + "meta-llama/Llama-2-70b-hf config.json", max_context=4096),
    _LLAMA3_8B,
    _LLAMA3_70B,
    ModelArch("llama3.1-8b", 32, 4096, 32, 8, 14336, 128256,
              _HF + "meta-llama/Llama-3.1-8B config.json", max_context=131072),
    ModelArch("llama3.1-70b", 80, 8192, 64, 8, 28672, 128256,
              _HF + "meta-llama/Llama-3.1-70B config.json", max_context=131072),
    ModelArch("llama3.1-405b", 126, 16384, 128, 8, 53248, 128256,
              _HF + "meta-llama/Llama-3.1-405B config.json", max_context=131072),
    ModelArch("llama3.3-70b", 80, 8192, 64, 8, 28672, 128256,
              _HF + "meta-llama/Llama-3.3-70B-Instruct config.json", max_context=131072),
    ModelArch("mixtral-8x7b", 32, 4096, 32, 8, 14336, 32000,
              _HF + "mistralai/Mixtral-8x7B-v0.1 config.json",
              experts=8, active_experts=2, max_context=32768),
    ModelArch("mixtral-8x22b", 56, 6144, 48, 8, 16384, 32768,
              _HF + "mistralai/Mixtral-8x22B-v0.1 config.json",
              experts=8, active_experts=2, max_context=65536),
    ModelArch("gpt3-175b", 96, 12288, 96, 96, 49152, 50257,
              "Brown et al. 2020, arXiv 2005.14165, Table 2.1 (d_ff = 4 d_model, tied "
              "embeddings)", gated_mlp=False, tied_embeddings=True, max_context=2048),
    ModelArch("mistral-7b", 32, 4096, 32, 8, 14336, 32000,
              _HF + "mistralai/Mistral-7B-v0.1 config.json", max_context=32768),
)
MODEL_ARCH_BY_NAME: dict[str, ModelArch] = {m.name: m for m in MODEL_ARCHS}
# Names the emulator's job specs used before this catalog existed.
MODEL_ALIASES: dict[str, str] = {"llama3-405b": "llama3.1-405b"}


def model_arch(name: str) -> ModelArch:
    """The architecture named `name` (or one of its aliases); KeyError if unknown."""
    return MODEL_ARCH_BY_NAME[MODEL_ALIASES.get(name, name)]
