using System.Text;
using System.Text.RegularExpressions;

namespace SparseStorage.PowerShell.Tests;

/// <summary>One command invocation found in a script: its name and the parameter names given to it.</summary>
public sealed record CommandUse(string File, int Line, string Command, IReadOnlyList<string> Parameters)
{
    public override string ToString() => $"{File}:{Line}: {Command}";
}

/// <summary>
/// Finds `Verb-Noun -Param …` commands in PowerShell source without PowerShell: a small lexer for the parts of the
/// language that decide where a command starts and ends (comments, quoted and here-strings, line continuations,
/// pipes, statement separators, nested (), {}, [], $(), @(), @{}) and a pass that records, for each command at
/// command position, the `-Name` tokens given at its own nesting level. Strings are opaque, so commands quoted for a
/// child pwsh are not seen.
/// </summary>
public static partial class ScriptCommandScanner
{
    private enum Kind { Word, String, Open, Close, Pipe, Separator, Newline }

    private sealed record Token(Kind Kind, string Text, int Line);

    private sealed class Frame(bool expectCommand, bool hashtable)
    {
        public bool ExpectCommand { get; set; } = expectCommand;
        public bool Hashtable { get; } = hashtable;
        public (string Command, int Line, List<string> Parameters)? Active { get; set; }
    }

    [GeneratedRegex(@"^[A-Za-z]+-[A-Za-z][A-Za-z0-9]*$")]
    private static partial Regex CommandName();

    [GeneratedRegex(@"^-([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex ParameterName();

    private static readonly HashSet<string> Assignments = ["=", "+=", "-=", "*=", "/=", "%=", "??="];
    private static readonly HashSet<string> CommandPrefixes = ["&", ".", "return", "throw"];

    /// <summary>Every command use in <paramref name="source"/>, and the names of the functions it defines.</summary>
    public static (IReadOnlyList<CommandUse> Uses, IReadOnlySet<string> Functions) Scan(string file, string source)
    {
        var uses = new List<CommandUse>();
        var functions = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var frames = new Stack<Frame>();
        frames.Push(new Frame(expectCommand: true, hashtable: false));
        var defining = false;

        void End(Frame frame)
        {
            if (frame.Active is { } active)
                uses.Add(new CommandUse(file, active.Line, active.Command, active.Parameters));
            frame.Active = null;
        }

        foreach (var token in Tokenize(source))
        {
            var frame = frames.Peek();
            switch (token.Kind)
            {
                case Kind.Newline or Kind.Pipe or Kind.Separator:
                    End(frame);
                    frame.ExpectCommand = !frame.Hashtable || token.Kind == Kind.Pipe;
                    break;
                case Kind.Open:
                    frame.ExpectCommand = false;
                    frames.Push(new Frame(expectCommand: token.Text is "(" or "{" or "$(" or "@(", hashtable: token.Text == "@{"));
                    break;
                case Kind.Close:
                    End(frame);
                    if (frames.Count > 1)
                        frames.Pop();
                    frames.Peek().ExpectCommand = false;
                    break;
                case Kind.String:
                    frame.ExpectCommand = false;
                    break;
                case Kind.Word when defining:
                    functions.Add(token.Text);
                    defining = false;
                    frame.ExpectCommand = false;
                    break;
                case Kind.Word when token.Text is "function" or "filter":
                    defining = true;
                    break;
                case Kind.Word when frame.ExpectCommand && CommandName().IsMatch(token.Text):
                    frame.Active = (token.Text, token.Line, []);
                    frame.ExpectCommand = false;
                    break;
                case Kind.Word when Assignments.Contains(token.Text) || CommandPrefixes.Contains(token.Text):
                    frame.ExpectCommand = true;
                    break;
                case Kind.Word:
                    if (frame.Active is { } active && ParameterName().Match(token.Text) is { Success: true } match)
                        active.Parameters.Add(match.Groups[1].Value);
                    frame.ExpectCommand = false;
                    break;
            }
        }
        while (frames.Count > 0)
            End(frames.Pop());
        return (uses, functions);
    }

    private static IEnumerable<Token> Tokenize(string s)
    {
        var i = 0;
        var line = 1;
        while (i < s.Length)
        {
            var c = s[i];
            var next = i + 1 < s.Length ? s[i + 1] : '\0';
            if (c == '\n')
            {
                yield return new Token(Kind.Newline, "\n", line++);
                i++;
            }
            else if (char.IsWhiteSpace(c))
                i++;
            else if (c == '`' && (next == '\n' || (next == '\r' && i + 2 < s.Length && s[i + 2] == '\n')))
            {
                i += next == '\n' ? 2 : 3;
                line++;
            }
            else if (c == '<' && next == '#')
                i = Skip(s, i, s.IndexOf("#>", i + 2, StringComparison.Ordinal), 2, ref line);
            else if (c == '#')
                i = Skip(s, i, s.IndexOf('\n', i), 0, ref line);
            else if (c == '@' && next is '"' or '\'' && IsLineEnd(s, i + 2))
            {
                var start = line;
                i = Skip(s, i, s.IndexOf("\n" + next + "@", i, StringComparison.Ordinal), 3, ref line);
                yield return new Token(Kind.String, "@" + next, start);
            }
            else if (c == '\'' || c == '"')
            {
                var start = line;
                i = SkipString(s, i, ref line);
                yield return new Token(Kind.String, c.ToString(), start);
            }
            else if ((c == '$' || c == '@') && next == '(' || c == '@' && next == '{')
            {
                yield return new Token(Kind.Open, s.Substring(i, 2), line);
                i += 2;
            }
            else if (c is '(' or '{' or '[')
            {
                yield return new Token(Kind.Open, c.ToString(), line);
                i++;
            }
            else if (c is ')' or '}' or ']')
            {
                yield return new Token(Kind.Close, c.ToString(), line);
                i++;
            }
            else if (c == '|')
            {
                yield return new Token(next == '|' ? Kind.Separator : Kind.Pipe, "|", line);
                i += next == '|' ? 2 : 1;
            }
            else if (c == ';' || c == '&' && next == '&')
            {
                yield return new Token(Kind.Separator, c.ToString(), line);
                i += c == ';' ? 1 : 2;
            }
            else if (c == ',')
                i++;
            else
            {
                var word = new StringBuilder();
                while (i < s.Length && !char.IsWhiteSpace(s[i]) && "(){}[]|;,'\"".IndexOf(s[i]) < 0)
                {
                    if (s[i] == '`' && i + 1 < s.Length && s[i + 1] != '\n' && s[i + 1] != '\r')
                        i++;
                    else if (s[i] == '`')
                        break;
                    // $(...) and @(...) inside a word (an argument like "prefix$(...)") open a group of their own.
                    if ((s[i] == '$' || s[i] == '@') && i + 1 < s.Length && s[i + 1] == '(' && word.Length > 0)
                        break;
                    word.Append(s[i++]);
                }
                if (word.Length == 0)
                    i++; // a lone backtick
                else
                    yield return new Token(Kind.Word, word.ToString(), line);
            }
        }
    }

    private static bool IsLineEnd(string s, int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t' or '\r')
            i++;
        return i >= s.Length || s[i] == '\n';
    }

    /// <summary>Moves past the text from <paramref name="from"/> to <paramref name="end"/> plus <paramref name="tail"/> characters, counting lines.</summary>
    private static int Skip(string s, int from, int end, int tail, ref int line)
    {
        var stop = end < 0 ? s.Length : Math.Min(s.Length, end + tail);
        for (var k = from; k < stop; k++)
            if (s[k] == '\n')
                line++;
        return stop;
    }

    /// <summary>Moves past a quoted string: '' doubles a single quote; in "…" a backtick escapes and $( … ) nests code.</summary>
    private static int SkipString(string s, int i, ref int line)
    {
        var quote = s[i++];
        while (i < s.Length)
        {
            var c = s[i];
            if (c == '\n')
                line++;
            if (c == quote)
            {
                if (i + 1 < s.Length && s[i + 1] == quote)
                {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            if (quote == '"' && c == '`')
                i += 2;
            else if (quote == '"' && c == '$' && i + 1 < s.Length && s[i + 1] == '(')
                i = SkipGroup(s, i + 1, ref line);
            else
                i++;
        }
        return i;
    }

    /// <summary>Moves past a balanced (…) group that starts at <paramref name="i"/>, strings inside included.</summary>
    private static int SkipGroup(string s, int i, ref int line)
    {
        var depth = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (c == '\n')
                line++;
            if (c is '\'' or '"')
            {
                i = SkipString(s, i, ref line);
                continue;
            }
            if (c == '(')
                depth++;
            else if (c == ')' && --depth == 0)
                return i + 1;
            i++;
        }
        return i;
    }
}
