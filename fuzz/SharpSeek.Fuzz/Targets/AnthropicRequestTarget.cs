using SharpSeek.Server.Api;
using SharpSeek.Server.Api.Anthropic;

namespace SharpSeek.Fuzz.Targets;

/// <summary>A /anthropic/v1/messages body, translated, then formatted like <see cref="ChatRequestTarget"/>.</summary>
/// <remarks>Clean rejections: as for <see cref="ChatRequestTarget"/>.</remarks>
internal static class AnthropicRequestTarget
{
    public static void Run(byte[] input)
    {
        AnthropicRequest request;
        try { request = AnthropicRequest.Parse(input, BundledTokenizer.ServedModelName); }
        catch (ApiException) { return; }
        try { _ = BundledTokenizer.Prompts.Format(request.Chat.Messages, request.Chat.Mode, request.Chat.Tools); }
        catch (ArgumentException) { }
        catch (NotSupportedException) { }
    }
}
