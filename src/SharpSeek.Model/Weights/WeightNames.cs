namespace SharpSeek.Model;

/// <summary>
/// The tensor names the model looks up in <see cref="ModelWeights"/>: HF checkpoint names (DeepSeek V2/V3, Qwen2,
/// Llama), plus two extensions for layouts HF does not have: stacked experts and split MLA up-projections.
/// Every linear weight is [out, in] (row-major, as in safetensors).
/// </summary>
/// <remarks>
/// Layer N ∈ [0, num_hidden_layers) is a main block; MTP depth k lives at layer num_hidden_layers + k (HF's layout).
/// <list type="bullet">
/// <item>Routed experts: either per expert <c>model.layers.N.mlp.experts.E.{gate,up,down}_proj.weight</c> (HF) or
/// stacked <c>model.layers.N.mlp.experts.{gate,up,down}_proj.weight</c> of shape [n_experts, out, in] (GGUF's
/// ffn_*_exps).</item>
/// <item>MLA up-projection: either HF's <c>self_attn.kv_b_proj.weight</c> [nh·(dn+dv), kv_lora_rank] or the split pair
/// <c>self_attn.k_b_proj.weight</c> [nh, kv_lora_rank, dn] (per head W_kbᵀ: GGUF attn_k_b) and
/// <c>self_attn.v_b_proj.weight</c> [nh, dv, kv_lora_rank] (per head W_vb: GGUF attn_v_b).</item>
/// <item>FP8 weights carry their <c>weight_scale_inv</c> as <see cref="SharpSeek.Tensors.Tensor.BlockScales"/>, not as a separate entry.</item>
/// </list>
/// </remarks>
public static class WeightNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string OutputHead = "lm_head.weight";

    public static string Layer(int layer, string suffix) => $"model.layers.{layer}.{suffix}";

    // ---- every block ----
    public static string AttentionNorm(int l) => Layer(l, "input_layernorm.weight");
    public static string FfnNorm(int l) => Layer(l, "post_attention_layernorm.weight");
    public static string OutputProjection(int l) => Layer(l, "self_attn.o_proj.weight");

    // ---- MLA ----
    public static string QProj(int l) => Layer(l, "self_attn.q_proj.weight");
    public static string QAProj(int l) => Layer(l, "self_attn.q_a_proj.weight");
    public static string QANorm(int l) => Layer(l, "self_attn.q_a_layernorm.weight");
    public static string QBProj(int l) => Layer(l, "self_attn.q_b_proj.weight");
    public static string KvAProj(int l) => Layer(l, "self_attn.kv_a_proj_with_mqa.weight");
    public static string KvANorm(int l) => Layer(l, "self_attn.kv_a_layernorm.weight");
    public static string KvBProj(int l) => Layer(l, "self_attn.kv_b_proj.weight");
    public static string KBProj(int l) => Layer(l, "self_attn.k_b_proj.weight");
    public static string VBProj(int l) => Layer(l, "self_attn.v_b_proj.weight");

    // ---- grouped-query attention ----
    public static string KProj(int l) => Layer(l, "self_attn.k_proj.weight");
    public static string VProj(int l) => Layer(l, "self_attn.v_proj.weight");
    public static string QBias(int l) => Layer(l, "self_attn.q_proj.bias");
    public static string KBias(int l) => Layer(l, "self_attn.k_proj.bias");
    public static string VBias(int l) => Layer(l, "self_attn.v_proj.bias");

    // ---- dense SwiGLU ----
    public static string DenseGate(int l) => Layer(l, "mlp.gate_proj.weight");
    public static string DenseUp(int l) => Layer(l, "mlp.up_proj.weight");
    public static string DenseDown(int l) => Layer(l, "mlp.down_proj.weight");

    // ---- DeepSeekMoE ----
    public static string Router(int l) => Layer(l, "mlp.gate.weight");
    public static string RouterBias(int l) => Layer(l, "mlp.gate.e_score_correction_bias");
    public static string ExpertGate(int l, int e) => Layer(l, $"mlp.experts.{e}.gate_proj.weight");
    public static string ExpertUp(int l, int e) => Layer(l, $"mlp.experts.{e}.up_proj.weight");
    public static string ExpertDown(int l, int e) => Layer(l, $"mlp.experts.{e}.down_proj.weight");
    /// <summary>True for one routed expert's tensor (<see cref="ExpertGate"/>, <see cref="ExpertUp"/>, <see cref="ExpertDown"/>), with its layer and expert.</summary>
    public static bool IsRoutedExpert(string name, out int layer, out int expert)
    {
        layer = expert = -1;
        const string prefix = "model.layers.", infix = ".mlp.experts.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var rest = name.AsSpan(prefix.Length);
        int dot = rest.IndexOf('.');
        if (dot <= 0 || !int.TryParse(rest[..dot], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int l)) return false;
        rest = rest[dot..];
        if (!rest.StartsWith(infix, StringComparison.Ordinal)) return false;
        rest = rest[infix.Length..];
        dot = rest.IndexOf('.');
        if (dot <= 0 || !int.TryParse(rest[..dot], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int e)) return false;
        (layer, expert) = (l, e);
        return true;
    }

    public static string StackedExpertGate(int l) => Layer(l, "mlp.experts.gate_proj.weight");
    public static string StackedExpertUp(int l) => Layer(l, "mlp.experts.up_proj.weight");
    public static string StackedExpertDown(int l) => Layer(l, "mlp.experts.down_proj.weight");
    public static string SharedGate(int l) => Layer(l, "mlp.shared_experts.gate_proj.weight");
    public static string SharedUp(int l) => Layer(l, "mlp.shared_experts.up_proj.weight");
    public static string SharedDown(int l) => Layer(l, "mlp.shared_experts.down_proj.weight");

    // ---- MTP (layer = num_hidden_layers + depth) ----
    public static string MtpEmbeddingNorm(int l) => Layer(l, "enorm.weight");
    public static string MtpHiddenNorm(int l) => Layer(l, "hnorm.weight");
    /// <summary>[hidden, 2·hidden]; its input is concat(enorm(embedding), hnorm(hidden)), embedding first.</summary>
    public static string MtpProjection(int l) => Layer(l, "eh_proj.weight");
    public static string MtpHeadNorm(int l) => Layer(l, "shared_head.norm.weight");
    /// <summary>Optional: the checkpoint repeats the main head here; <see cref="OutputHead"/> is used when absent.</summary>
    public static string MtpHead(int l) => Layer(l, "shared_head.head.weight");
    /// <summary>Optional: the checkpoint repeats the main embedding here; <see cref="Embedding"/> is used when absent.</summary>
    public static string MtpEmbedding(int l) => Layer(l, "embed_tokens.weight");
}
