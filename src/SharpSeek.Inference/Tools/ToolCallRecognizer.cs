using System.Text;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Inference.Tools;

/// <summary>
/// The tool-call grammar of one sequence, over tokens: special tool markers by id, everything else by its bytes.
/// <code>
/// reply   := text* calls?            (auto; required/function: calls only; none: text only)
/// calls   := ‹tool▁calls▁begin› call ('\n'? call)* ‹tool▁calls▁end›
/// call    := ‹tool▁call▁begin› "function" ‹tool▁sep› NAME "\n```json\n" ARGS "\n```" ‹tool▁call▁end›
/// </code>
/// NAME is one of the tools' names and ARGS a JSON object valid under that tool's schema (<see cref="JsonValueRecognizer"/>).
/// <see cref="CanFeed"/> tries a token without changing anything (allocation-free, for constrained sampling);
/// <see cref="Feed"/> commits one and records the call's name and argument bytes, which the output writer turns into
/// <see cref="ToolCallDelta"/>s. The same state machine is therefore both the constraint and the parser.
/// </summary>
internal sealed class ToolCallRecognizer
{
    private enum Phase : byte { Text, Open, CallBegin, Type, Name, Fence, Args, FenceEnd, CallEnd, AfterCall, AfterNewline, Done }

    private struct State
    {
        public Phase Phase;
        public int Offset;       // bytes matched of "function", NAME, the fences
        public int NameLo, NameHi;
        public int Calls;        // calls whose name is complete
        public JsonValueRecognizer.Cursor Args;
    }

    private static readonly byte[] s_type = "function"u8.ToArray();
    private static readonly byte[] s_fence = "```json\n"u8.ToArray();
    private static readonly byte[] s_fenceEnd = "\n```"u8.ToArray();

    private readonly ToolSet _tools;
    private readonly ByteLevelBpeTokenizer _tokenizer;
    private readonly ToolTokenIds _ids;
    private readonly JsonValueRecognizer _json = new();
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly char[] _chars = new char[64];
    private State _state;
    private readonly List<(string Id, string Name, StringBuilder Arguments)> _calls = [];
    private readonly StringBuilder _fragment = new();

    public ToolCallRecognizer(ToolSet tools, ByteLevelBpeTokenizer tokenizer, ToolTokenIds ids)
    {
        _tools = tools;
        _tokenizer = tokenizer;
        _ids = ids;
        _state.Phase = tools.Choice.Kind is ToolChoiceKind.Required or ToolChoiceKind.Function ? Phase.Open : Phase.Text;
    }

    /// <summary>The calls whose name is complete, with the arguments read so far.</summary>
    public IReadOnlyList<GeneratedToolCall> Snapshot() => _calls.Select(c => new GeneratedToolCall(c.Id, c.Name, c.Arguments.ToString())).ToArray();

    /// <summary>Calls whose name is complete.</summary>
    public int CallCount => _calls.Count;

    /// <summary>Still in free text (no call opened): content rules (stop strings, decoding) apply.</summary>
    public bool InText => _state.Phase == Phase.Text;

    /// <summary>The reply's calls are closed: the sequence ends here.</summary>
    public bool IsDone => _state.Phase == Phase.Done;

    /// <summary>In free text, whether <paramref name="token"/> stays text (it is not the marker that opens calls).</summary>
    public bool IsTextToken(int token) => token != _ids.CallsBegin;

    /// <summary>Whether <paramref name="token"/> is allowed next; changes nothing.</summary>
    public bool CanFeed(int token)
    {
        var s = _state;
        s.Args.DirtyFrom = int.MaxValue;
        return Step(ref s, token, record: false);
    }

    /// <summary>
    /// Commits <paramref name="token"/> (call <see cref="CanFeed"/> first; a token the grammar refuses is ignored and
    /// false returned). <paramref name="started"/> is the index of a call whose name completed, else −1;
    /// <paramref name="fragment"/> the argument text this token added (possibly empty).
    /// </summary>
    public bool Feed(int token, out int started, out string fragment)
    {
        started = -1;
        fragment = "";
        if (!CanFeed(token)) return false;
        var s = _state;
        s.Args.DirtyFrom = int.MaxValue;
        int callsBefore = _state.Calls;
        if (!Step(ref s, token, record: true)) return false;
        _json.Commit(s.Args);
        s.Args.DirtyFrom = int.MaxValue;
        _state = s;
        if (s.Calls > callsBefore) started = s.Calls - 1;
        if (_fragment.Length > 0)
        {
            fragment = _fragment.ToString();
            _fragment.Clear();
        }
        return true;
    }

    private bool Step(ref State s, int token, bool record)
    {
        if (token == _ids.CallsBegin)
        {
            if (s.Phase == Phase.Open || (s.Phase == Phase.Text && _tools.Choice.Kind == ToolChoiceKind.Auto)) { s.Phase = Phase.CallBegin; return true; }
            return false;
        }
        if (token == _ids.CallBegin)
        {
            if (s.Phase == Phase.CallBegin || (s.Phase is Phase.AfterCall or Phase.AfterNewline && MoreCallsAllowed(s))) { s.Phase = Phase.Type; s.Offset = 0; return true; }
            return false;
        }
        if (token == _ids.Separator)
        {
            if (s.Phase != Phase.Type || s.Offset != s_type.Length) return false;
            s.Phase = Phase.Name;
            s.Offset = 0;
            s.NameLo = 0;
            s.NameHi = _tools.SortedNames.Length;
            return true;
        }
        if (token == _ids.CallEnd)
        {
            if (s.Phase != Phase.CallEnd) return false;
            s.Phase = Phase.AfterCall;
            return true;
        }
        if (token == _ids.CallsEnd)
        {
            if (s.Phase != Phase.AfterCall) return false;
            s.Phase = Phase.Done;
            return true;
        }
        if (s.Phase == Phase.Text)
            return !_ids.IsToolMarker(token);
        if (s.Phase == Phase.Done || (uint)token >= (uint)_tokenizer.VocabularySize || _tokenizer.IsSpecial(token)) return false;
        var bytes = _tokenizer.TokenBytes(token);
        if (bytes.IsEmpty) return false;
        foreach (byte b in bytes)
            if (!StepByte(ref s, b, record)) return false;
        if (record) FlushFragment(s.Phase != Phase.Args);
        return true;
    }

    private bool MoreCallsAllowed(in State s) => _tools.Choice.Kind != ToolChoiceKind.Function && s.Calls < ToolSet.MaxCalls;

    private bool StepByte(ref State s, byte b, bool record)
    {
        switch (s.Phase)
        {
            case Phase.Type:
                if (s.Offset >= s_type.Length || s_type[s.Offset] != b) return false;
                s.Offset++;
                return true;
            case Phase.Name:
                return StepName(ref s, b, record);
            case Phase.Fence:
                if (s_fence[s.Offset] != b) return false;
                if (++s.Offset == s_fence.Length)
                {
                    s.Phase = Phase.Args;
                    s.Args = JsonValueRecognizer.Start(_tools.Schemas[s.NameLo]);
                }
                return true;
            case Phase.Args:
                if (!_json.Step(ref s.Args, b)) return false;
                if (record) AppendArgument(b);
                if (s.Args.RootDone) { s.Phase = Phase.FenceEnd; s.Offset = 0; }
                return true;
            case Phase.FenceEnd:
                if (s_fenceEnd[s.Offset] != b) return false;
                if (++s.Offset == s_fenceEnd.Length) s.Phase = Phase.CallEnd;
                return true;
            case Phase.AfterCall:
                if (b != '\n' || !MoreCallsAllowed(s)) return false;
                s.Phase = Phase.AfterNewline;
                return true;
        }
        return false;
    }

    private bool StepName(ref State s, byte b, bool record)
    {
        var names = _tools.SortedNames;
        int k = s.Offset;
        if (b == '\n')
        {
            // Names are sorted, so the one that ends here (if any) is first in the range.
            if (s.NameLo >= s.NameHi || names[s.NameLo].Length != k) return false;
            if (_tools.Choice.Kind == ToolChoiceKind.Function && _tools.NameTexts[s.NameLo] != _tools.Choice.FunctionName) return false;
            s.NameHi = s.NameLo + 1;
            s.Phase = Phase.Fence;
            s.Offset = 0;
            s.Calls++;
            if (record) StartCall(s.NameLo);
            return true;
        }
        int lo = s.NameHi, hi = s.NameLo;
        for (int i = s.NameLo; i < s.NameHi; i++)
        {
            if (names[i].Length > k && names[i][k] == b && Chosen(i))
            {
                if (i < lo) lo = i;
                hi = i + 1;
            }
        }
        if (lo >= hi) return false;
        s.NameLo = lo;
        s.NameHi = hi;
        s.Offset = k + 1;
        return true;
    }

    private bool Chosen(int index) => _tools.Choice.Kind != ToolChoiceKind.Function || _tools.NameTexts[index] == _tools.Choice.FunctionName;

    private void StartCall(int tool)
    {
        _calls.Add(("call_" + Guid.NewGuid().ToString("N")[..24], _tools.NameTexts[tool], new StringBuilder()));
        _utf8.Reset();
    }

    /// <summary>The id of call <paramref name="index"/> (for the delta that announces it).</summary>
    public (string Id, string Name) Call(int index) => (_calls[index].Id, _calls[index].Name);

    private void AppendArgument(byte b)
    {
        ReadOnlySpan<byte> one = [b];
        int n = _utf8.GetChars(one, _chars, flush: false);
        _fragment.Append(_chars, 0, n);
    }

    private void FlushFragment(bool endOfArguments)
    {
        if (_calls.Count == 0) return;
        if (endOfArguments)
        {
            int n = _utf8.GetChars(ReadOnlySpan<byte>.Empty, _chars, flush: true);
            _fragment.Append(_chars, 0, n);
        }
        _calls[^1].Arguments.Append(_fragment);
    }
}

/// <summary>The ids of DeepSeek's tool markers in a vocabulary (−1 where absent).</summary>
internal sealed class ToolTokenIds
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ByteLevelBpeTokenizer, ToolTokenIds> s_byTokenizer = new();

    /// <summary>The ids of <paramref name="tokenizer"/>, computed once per tokenizer.</summary>
    public static ToolTokenIds For(ByteLevelBpeTokenizer tokenizer) => s_byTokenizer.GetValue(tokenizer, t => new ToolTokenIds(t));

    private ToolTokenIds(ByteLevelBpeTokenizer tokenizer)
    {
        int Id(string t) => tokenizer.TokenToId(t) ?? -1;
        CallsBegin = Id(DeepSeekTokens.ToolCallsBegin);
        CallsEnd = Id(DeepSeekTokens.ToolCallsEnd);
        CallBegin = Id(DeepSeekTokens.ToolCallBegin);
        CallEnd = Id(DeepSeekTokens.ToolCallEnd);
        Separator = Id(DeepSeekTokens.ToolSeparator);
        _markers = new[]
        {
            CallsBegin, CallsEnd, CallBegin, CallEnd, Separator, Id(DeepSeekTokens.ToolOutputsBegin), Id(DeepSeekTokens.ToolOutputsEnd),
            Id(DeepSeekTokens.ToolOutputBegin), Id(DeepSeekTokens.ToolOutputEnd),
        }.Where(id => id >= 0).ToArray();
    }

    private readonly int[] _markers;
    public int CallsBegin { get; }
    public int CallsEnd { get; }
    public int CallBegin { get; }
    public int CallEnd { get; }
    public int Separator { get; }

    /// <summary>The vocabulary can write tool calls.</summary>
    public bool Complete => CallsBegin >= 0 && CallsEnd >= 0 && CallBegin >= 0 && CallEnd >= 0 && Separator >= 0;

    public bool IsToolMarker(int token) => Array.IndexOf(_markers, token) >= 0;
}
