using SharpSeek.Tensors;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>
/// Messages outside the model's tasks — greetings, questions about the model, requests it cannot serve — and the one
/// short reply it is taught to give them: what it is and what it can ask of it. A small share of the cold-start SFT
/// chats are these (<see cref="RecipeSettings"/>'s <c>SftOffTopicShare</c>), so "Hello! Who are you?" gets an answer
/// instead of a fragment of a multiplication trace. Messages are put together from pieces and split by the hash of
/// their text (<see cref="ProblemSplit.Of(string)"/>): a test message is a combination never trained on.
/// </summary>
public static class OffTopic
{
    public const string Reasoning = "This is not a math problem.";

    /// <summary>
    /// Short on purpose: English costs this math-trained vocabulary about a token a character or two, and the whole
    /// completion must fit the recipe's generation budget (a test checks it against the bundled tokenizer).
    /// </summary>
    public const string Reply = "I am SharpSeek-R1-tiny. I solve arithmetic and word problems, for example: What is 12 + 34?";

    private static readonly string[] Greetings =
        ["Hello", "Hi", "Hey", "Good morning", "Good evening", "Hello there", "Hi there", "Greetings", "Howdy", "Hey there"];

    private static readonly string[] AboutYou =
    [
        "Who are you?", "What are you?", "What can you do?", "What is your name?", "How are you?", "Can you help me?",
        "What do you know?", "Are you a robot?", "Tell me about yourself.", "What should I ask you?", "Are you an AI?",
        "Who made you?",
    ];

    private static readonly string[] Requests =
    [
        "Write a poem about the sea.", "What is the capital of France?", "Tell me a joke.", "How do I cook rice?",
        "Translate hello into Spanish.", "What is the weather today?", "Who won the world cup?", "Explain quantum physics.",
        "Recommend a good book.", "Write a story about a dragon.", "What time is it?", "How do I learn to code?",
        "What is love?", "Summarize the news.", "Give me a recipe for bread.", "Why is the sky blue?",
    ];

    /// <summary>Every message the pieces make, in a fixed order.</summary>
    public static IReadOnlyList<string> All { get; } = Build();

    private static List<string> Build()
    {
        var all = new List<string>();
        foreach (string g in Greetings) all.Add(g + "!");
        all.AddRange(AboutYou);
        all.AddRange(Requests);
        foreach (string g in Greetings)
        {
            foreach (string a in AboutYou) all.Add($"{g}! {a}");
            foreach (string r in Requests) all.Add($"{g}. {r}");
        }
        return all;
    }

    /// <summary>The messages of one split.</summary>
    public static IReadOnlyList<string> Messages(DataSplit split) => All.Where(m => ProblemSplit.Of("offtopic:" + m) == split).ToList();

    private static readonly IReadOnlyList<string> s_train = Messages(DataSplit.Train);

    /// <summary>A training message drawn uniformly.</summary>
    public static string DrawTraining(ref DeterministicRandom rng) => s_train[rng.NextInt(s_train.Count)];

    /// <summary>The chat completion taught for every off-topic message: a short think block, then <see cref="Reply"/>.</summary>
    public static string Completion => ReasoningChatFormat.TraceCompletion(Reasoning, Reply);

    /// <summary>Whether a completion (after the R1 prompt, thinking) is the well-formed capability reply.</summary>
    public static bool IsReply(string completion)
    {
        var parsed = RewardFunction.Parse(ReasoningChatFormat.AssistantText(completion, thinking: true));
        return parsed.WellFormed && parsed.Answer == Reply;
    }
}
