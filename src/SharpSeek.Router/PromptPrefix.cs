using System.Security.Cryptography;
using System.Text;
using SharpSeek.Inference;
using SharpSeek.Server.Api;
using SharpSeek.Server.Api.Anthropic;

namespace SharpSeek.Router;

/// <summary>
/// The chained keys of a request's full 64-token prompt blocks, as a replica's context cache will see them: the body
/// is parsed and rendered by the same code the replicas run (<see cref="ChatCompletionRequest"/>, the Anthropic
/// translation, the model's chat template), so block i's key names the whole prefix up to its end. The chain starts
/// from the caller's partition (a hash of its API key), as the replicas partition their caches per account.
/// </summary>
public sealed class PromptPrefix(ChatPromptFormatter prompts)
{
    public const int BlockTokens = ContextCache.BlockTokens;

    /// <summary>Block keys of the request, or empty when it is not a completion request or does not parse (the replica will say why).</summary>
    public ulong[] Keys(string path, ReadOnlySpan<byte> body, string? apiKey)
    {
        int[] tokens;
        try { tokens = Tokens(path, body) ?? []; }
        catch (Exception e) when (e is ApiException or ArgumentException or NotSupportedException) { return []; }
        int blocks = tokens.Length / BlockTokens;
        var keys = new ulong[blocks];
        Span<byte> state = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("partition:" + (apiKey ?? "")), state);
        Span<byte> input = stackalloc byte[32 + BlockTokens * 4];
        for (int b = 0; b < blocks; b++)
        {
            state.CopyTo(input);
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(tokens.AsSpan(b * BlockTokens, BlockTokens)).CopyTo(input[32..]);
            SHA256.HashData(input, state);
            keys[b] = BitConverter.ToUInt64(state);
        }
        return keys;
    }

    private int[]? Tokens(string path, ReadOnlySpan<byte> body)
    {
        if (path.EndsWith("/messages", StringComparison.Ordinal) && path.Contains("anthropic", StringComparison.Ordinal))
        {
            var a = AnthropicRequest.Parse(body, null);
            return prompts.Format(a.Chat.Messages, a.Chat.Mode, a.Chat.Tools).Tokens;
        }
        if (path.EndsWith("/chat/completions", StringComparison.Ordinal))
        {
            var c = ChatCompletionRequest.Parse(body, fillInTheMiddle: false, beta: path.StartsWith("/beta", StringComparison.Ordinal));
            return prompts.Format(c.Messages, c.Mode, c.Tools).Tokens;
        }
        if (path.EndsWith("/completions", StringComparison.Ordinal))
        {
            var f = ChatCompletionRequest.Parse(body, fillInTheMiddle: true);
            return prompts.FormatFillInTheMiddle(f.Prompt!, f.Suffix);
        }
        return null;
    }
}
