using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>One supervised example: prompt + completion tokens and which of them are trained on (the completion's).</summary>
public sealed record SupervisedExample(int[] Tokens, bool[] LossMask)
{
    public int CompletionTokens => LossMask.Count(m => m);
}

/// <summary>
/// The R1 chat format for problems: <c>&lt;｜User｜&gt;question&lt;｜Assistant｜&gt;&lt;think&gt;\n</c> as the prompt
/// (DeepSeek-R1's own template, which opens the think block), then <c>reasoning\n&lt;/think&gt;\n\nanswer</c> and the
/// end-of-sentence token. "Without thinking" pre-fills an empty think block so the model must answer at once.
/// </summary>
public sealed class ReasoningChatFormat(ByteLevelBpeTokenizer tokenizer) : ProblemFormat(tokenizer)
{
    private static readonly DeepSeekChatTemplate Template = new(ChatTemplateKind.DeepSeekR1);

    /// <summary>What a model with no thinking budget is given after the generation prompt.</summary>
    public const string EmptyThink = "\n" + DeepSeekTokens.ThinkEnd + "\n\n";

    public static string PromptText(string question, bool thinking)
        => Template.Render([ChatMessage.User(question)], addGenerationPrompt: true) + (thinking ? "" : EmptyThink);

    public override int[] Prompt(ReasoningProblem problem, bool thinking) => Prompt(problem.Question, thinking);

    /// <summary>The prompt of any one user message.</summary>
    public int[] Prompt(string question, bool thinking) => Tokenizer.Encode(PromptText(question, thinking), addSpecialTokens: false);

    protected override ParsedCompletion Parse(string completion, bool thinking) => RewardFunction.Parse(AssistantText(completion, thinking));

    /// <summary>The assistant text the rewards read: the think block the prompt opened plus what the model wrote.</summary>
    public static string AssistantText(string completion, bool thinking)
        => DeepSeekTokens.ThinkBegin + "\n" + (thinking ? "" : EmptyThink) + completion;

    /// <summary>The cold-start completion: the generator's reasoning, the closing tag, the answer.</summary>
    public static string TraceCompletion(ReasoningProblem problem) => TraceCompletion(problem.Reasoning, problem.Answer);

    public static string TraceCompletion(string reasoning, string answer) => reasoning + EmptyThink + answer + DeepSeekTokens.EndOfSentence;

    /// <summary>A completion with no reasoning: the think block closes at once.</summary>
    public static string PlainCompletion(ReasoningProblem problem) => DeepSeekTokens.ThinkEnd + "\n\n" + problem.Answer + DeepSeekTokens.EndOfSentence;

    public SupervisedExample Example(ReasoningProblem problem, string completion) => Example(problem.Question, completion);

    /// <summary>A chat of one user message and the assistant's completion, trained on the completion's tokens.</summary>
    public SupervisedExample Example(string question, string completion)
    {
        var prompt = Prompt(question, thinking: true);
        var answer = Tokenizer.Encode(completion, addSpecialTokens: false);
        var tokens = new int[prompt.Length + answer.Length];
        prompt.CopyTo(tokens, 0);
        answer.CopyTo(tokens, prompt.Length);
        var mask = new bool[tokens.Length];
        Array.Fill(mask, true, prompt.Length, answer.Length);
        return new SupervisedExample(tokens, mask);
    }

    /// <summary>Plain text for pretraining: question, worked solution and answer, no chat tokens.</summary>
    public static string PretrainingText(ReasoningProblem problem)
        => $"Question: {problem.Question}\nSolution:\n{problem.Reasoning}\nAnswer: {problem.Answer}\n\n";

    /// <summary>
    /// A Jinja chat template that <see cref="DeepSeekChatTemplate.Detect"/> recognises as R1's (single-turn subset
    /// written for SharpSeek); stored in tokenizer_config.json so every command renders chats the way the model was trained.
    /// </summary>
    public const string JinjaTemplate =
        "{% set ns = namespace(is_first_sp=true, system_prompt='') %}" +
        "{% for message in messages %}{% if message['role'] == 'system' %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% endif %}{% endfor %}" +
        "{{ bos_token }}{{ ns.system_prompt }}" +
        "{% for message in messages %}" +
        "{% if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{% endif %}" +
        "{% if message['role'] == 'assistant' and 'tool_calls' in message %}{% endif %}" +
        "{% if message['role'] == 'assistant' %}{% set content = message['content'] %}" +
        "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}" +
        "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}{% endif %}" +
        "{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}";
}
