namespace SharpSeek.Inference.Tools;

/// <summary>A function the model may call, in wire-neutral form (OpenAI's <c>tools[].function</c>, Anthropic's <c>tools[]</c>).</summary>
/// <param name="Name">Function name: 1–64 of <c>a-z A-Z 0-9 _ -</c>.</param>
/// <param name="Description">What it does, for the model; may be null.</param>
/// <param name="ParametersJson">JSON Schema of the arguments object (raw JSON text); null = no parameters (<c>{}</c>).</param>
/// <param name="Strict">Arguments must follow the schema exactly and the schema must be strict-shaped (every property
/// required, <c>additionalProperties: false</c>); an unsupported keyword is then always an error.</param>
public sealed record ToolDefinition(string Name, string? Description, string? ParametersJson, bool Strict = false);

/// <summary>Whether and how the model must call a tool.</summary>
public enum ToolChoiceKind
{
    /// <summary>Never call: the tool-call tokens are masked (the tools are still described in the prompt).</summary>
    None,
    /// <summary>The model writes text or calls; a call it opens is constrained to the tools' names and schemas.</summary>
    Auto,
    /// <summary>The reply is one or more calls and nothing else.</summary>
    Required,
    /// <summary>The reply is exactly one call of <see cref="ToolChoice.FunctionName"/>.</summary>
    Function,
}

/// <summary>A tool choice: a kind, and the function's name for <see cref="ToolChoiceKind.Function"/>.</summary>
public readonly record struct ToolChoice(ToolChoiceKind Kind, string? FunctionName = null)
{
    public static ToolChoice None => new(ToolChoiceKind.None);
    public static ToolChoice Auto => new(ToolChoiceKind.Auto);
    public static ToolChoice Required => new(ToolChoiceKind.Required);
    public static ToolChoice Function(string name) => new(ToolChoiceKind.Function, name);
}

/// <summary>A tool call the model made: <see cref="Arguments"/> is the JSON text it wrote (a whole object when the call finished).</summary>
public sealed record GeneratedToolCall(string Id, string Name, string Arguments);

/// <summary>
/// A streamed piece of a tool call (<see cref="OutputChannel.ToolCall"/> deltas): the first delta of call
/// <see cref="Index"/> carries its <see cref="Id"/> and <see cref="Name"/> (and an empty fragment); later ones carry
/// argument text fragments that concatenate to <see cref="GeneratedToolCall.Arguments"/>.
/// </summary>
public sealed record ToolCallDelta(int Index, string? Id, string? Name, string ArgumentsFragment);
