using System.Globalization;
using System.Text.RegularExpressions;
using SharpSeek.Model;

namespace SharpSeek.Checkpoints.Gguf;

/// <summary>
/// llama.cpp's tensor names (<c>token_embd.weight</c>, <c>blk.N.attn_kv_a_mqa.weight</c>, …) ↔ the HF-style names the
/// model uses (<see cref="WeightNames"/>). The same table serves deepseek2, qwen2 and llama.
/// </summary>
public static partial class GgufTensorNames
{
    private static readonly (string Hf, string Gguf)[] Globals =
    [
        (WeightNames.Embedding, "token_embd.weight"),
        (WeightNames.FinalNorm, "output_norm.weight"),
        (WeightNames.OutputHead, "output.weight"),
    ];

    // Per-block suffixes: HF "model.layers.N.<hf>" ↔ GGUF "blk.N.<gguf>".
    private static readonly (string Hf, string Gguf)[] BlockSuffixes =
    [
        ("input_layernorm.weight", "attn_norm.weight"),
        ("post_attention_layernorm.weight", "ffn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"),
        ("self_attn.q_proj.bias", "attn_q.bias"),
        ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.k_proj.bias", "attn_k.bias"),
        ("self_attn.v_proj.weight", "attn_v.weight"),
        ("self_attn.v_proj.bias", "attn_v.bias"),
        ("self_attn.o_proj.weight", "attn_output.weight"),
        ("self_attn.q_a_proj.weight", "attn_q_a.weight"),
        ("self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"),
        ("self_attn.q_b_proj.weight", "attn_q_b.weight"),
        ("self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"),
        ("self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"),
        ("self_attn.kv_b_proj.weight", "attn_kv_b.weight"),
        ("self_attn.k_b_proj.weight", "attn_k_b.weight"),
        ("self_attn.v_b_proj.weight", "attn_v_b.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"),
        ("mlp.up_proj.weight", "ffn_up.weight"),
        ("mlp.down_proj.weight", "ffn_down.weight"),
        ("mlp.gate.weight", "ffn_gate_inp.weight"),
        ("mlp.gate.e_score_correction_bias", "exp_probs_b.bias"),
        ("mlp.experts.gate_proj.weight", "ffn_gate_exps.weight"),
        ("mlp.experts.up_proj.weight", "ffn_up_exps.weight"),
        ("mlp.experts.down_proj.weight", "ffn_down_exps.weight"),
        ("mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"),
        ("mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"),
        ("mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"),
        ("enorm.weight", "nextn.enorm.weight"),
        ("hnorm.weight", "nextn.hnorm.weight"),
        ("eh_proj.weight", "nextn.eh_proj.weight"),
        ("shared_head.norm.weight", "nextn.shared_head_norm.weight"),
        ("shared_head.head.weight", "nextn.shared_head_head.weight"),
        ("embed_tokens.weight", "nextn.embed_tokens.weight"),
    ];

    private static readonly Dictionary<string, string> HfToGgufSuffix = BlockSuffixes.ToDictionary(p => p.Hf, p => p.Gguf, StringComparer.Ordinal);
    private static readonly Dictionary<string, string> GgufToHfSuffix = BlockSuffixes.ToDictionary(p => p.Gguf, p => p.Hf, StringComparer.Ordinal);

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    private static partial Regex HfLayer();

    [GeneratedRegex(@"^blk\.(\d+)\.(.+)$")]
    private static partial Regex GgufBlock();

    /// <summary>The GGUF name of HF-style tensor <paramref name="hfName"/>; throws for a name GGUF has no place for (e.g. per-expert weights, which GGUF stacks).</summary>
    public static string ToGguf(string hfName)
        => TryToGguf(hfName) ?? throw new ArgumentException($"tensor '{hfName}' has no GGUF name (GGUF stores routed experts stacked: write them as mlp.experts.*_proj.weight)");

    public static string? TryToGguf(string hfName)
    {
        foreach (var (hf, gguf) in Globals)
            if (hf == hfName) return gguf;
        var m = HfLayer().Match(hfName);
        if (!m.Success) return null;
        return HfToGgufSuffix.TryGetValue(m.Groups[2].Value, out var suffix) ? $"blk.{m.Groups[1].Value}.{suffix}" : null;
    }

    /// <summary>The HF-style name of GGUF tensor <paramref name="ggufName"/>, or null for tensors the model does not use (e.g. <c>rope_freqs.weight</c>).</summary>
    public static string? TryFromGguf(string ggufName)
    {
        foreach (var (hf, gguf) in Globals)
            if (gguf == ggufName) return hf;
        var m = GgufBlock().Match(ggufName);
        if (!m.Success) return null;
        int layer = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return GgufToHfSuffix.TryGetValue(m.Groups[2].Value, out var suffix) ? WeightNames.Layer(layer, suffix) : null;
    }
}
