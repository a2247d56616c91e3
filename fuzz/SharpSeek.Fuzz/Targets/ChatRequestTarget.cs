using SharpSeek.Server.Api;

namespace SharpSeek.Fuzz.Targets;

/// <summary>
/// A /chat/completions body (and the same bytes as a /beta/completions FIM body), then the prompt the server would
/// build from an accepted request, formatted with the bundled tokenizer.
/// </summary>
/// <remarks>
/// Clean rejections: <see cref="ApiException"/> from parsing (a 4xx with a message); from formatting,
/// <see cref="ArgumentException"/> and <see cref="NotSupportedException"/>, which CompletionExchange answers with a 400.
/// </remarks>
internal static class ChatRequestTarget
{
    public static void Run(byte[] input)
    {
        Parse(input, fillInTheMiddle: false);
        Parse(input, fillInTheMiddle: true);
    }

    private static void Parse(byte[] input, bool fillInTheMiddle)
    {
        ChatCompletionRequest request;
        try { request = ChatCompletionRequest.Parse(input, fillInTheMiddle, BundledTokenizer.ServedModelName, beta: true); }
        catch (ApiException) { return; }
        try
        {
            if (fillInTheMiddle) _ = BundledTokenizer.Prompts.FormatFillInTheMiddle(request.Prompt!, request.Suffix);
            else _ = BundledTokenizer.Prompts.Format(request.Messages, request.Mode, request.Tools);
        }
        catch (ArgumentException) { }
        catch (NotSupportedException) { }
    }
}
