using System.Text;
using System.Text.RegularExpressions;

namespace SparseStorage.Packager;

/// <summary>A run of text or a fenced code block inside a markdown section.</summary>
public sealed record MarkdownBlock(string Text, bool IsFence, string Language);

/// <summary>A heading and the lines under it, down to the next heading of the same or a higher level.</summary>
public sealed class MarkdownSection(string title)
{
    public string Title { get; } = title;

    /// <summary>Lines before the first child heading.</summary>
    public List<string> Body { get; } = [];

    public List<MarkdownSection> Children { get; } = [];

    public MarkdownSection? Child(string title) =>
        Children.FirstOrDefault(c => string.Equals(c.Title, title, StringComparison.OrdinalIgnoreCase));

    /// <summary>The body cut into paragraphs (separated by blank lines) and fenced code blocks.</summary>
    public IReadOnlyList<MarkdownBlock> Blocks() => MarkdownOutline.SplitBlocks(Body);

    /// <summary>The body as help paragraphs: each paragraph and each code block is one.</summary>
    public IReadOnlyList<string> Paragraphs() => Blocks().Select(b => b.Text).ToList();
}

/// <summary>
/// Splits a markdown page into a heading tree (levels 1 to 3). Fence-aware, because PowerShell comments in
/// example code start with '#' and must not be read as headings.
/// </summary>
public static partial class MarkdownOutline
{
    [GeneratedRegex(@"^(?<hashes>#{1,3})\s+(?<title>.*?)\s*$")]
    private static partial Regex HeadingPattern();

    [GeneratedRegex(@"^(\s*)(```+|~~~+)")]
    private static partial Regex FencePattern();

    [GeneratedRegex(@"^\s*([-*+]|\d+[.)])\s")]
    private static partial Regex ListItemPattern();

    /// <summary>Parses <paramref name="lines"/> into a root section (title "") whose children are the level-1 headings.</summary>
    public static MarkdownSection Parse(IEnumerable<string> lines)
    {
        var root = new MarkdownSection("");
        var path = new List<MarkdownSection> { root };
        string? fence = null;
        foreach (var line in lines)
        {
            var fenceMatch = FencePattern().Match(line);
            if (fence is null && fenceMatch.Success)
                fence = fenceMatch.Groups[2].Value;
            else if (fence is not null && fenceMatch.Success && line.Trim() == fence)
                fence = null;
            else if (fence is null && HeadingPattern().Match(line) is { Success: true } heading)
            {
                var level = heading.Groups["hashes"].Length;
                var section = new MarkdownSection(heading.Groups["title"].Value);
                while (path.Count > level)
                    path.RemoveAt(path.Count - 1);
                while (path.Count < level)
                    path.Add(path[^1]); // a skipped level hangs under the nearest parent
                path[^1].Children.Add(section);
                path.Add(section);
                continue;
            }
            path[^1].Body.Add(line);
        }
        return root;
    }

    /// <summary>Cuts lines into paragraphs and fenced blocks. Lines of a paragraph are joined with a space, except list items, which start a new paragraph.</summary>
    public static IReadOnlyList<MarkdownBlock> SplitBlocks(IEnumerable<string> lines)
    {
        var blocks = new List<MarkdownBlock>();
        var text = new StringBuilder();
        var code = new List<string>();
        string? fence = null;
        var language = "";

        void FlushText()
        {
            if (text.Length > 0)
                blocks.Add(new MarkdownBlock(text.ToString(), false, ""));
            text.Clear();
        }

        foreach (var line in lines)
        {
            var fenceMatch = FencePattern().Match(line);
            if (fence is not null)
            {
                if (fenceMatch.Success && line.Trim() == fence)
                {
                    blocks.Add(new MarkdownBlock(string.Join('\n', code), true, language));
                    code.Clear();
                    fence = null;
                }
                else
                    code.Add(line);
            }
            else if (fenceMatch.Success)
            {
                FlushText();
                fence = fenceMatch.Groups[2].Value;
                language = line.Trim()[fence.Length..].Trim();
            }
            else if (string.IsNullOrWhiteSpace(line))
                FlushText();
            else
            {
                if (ListItemPattern().IsMatch(line))
                    FlushText();
                text.Append(text.Length > 0 ? " " : "").Append(line.Trim());
            }
        }
        if (fence is not null)
            blocks.Add(new MarkdownBlock(string.Join('\n', code), true, language)); // unclosed fence: keep what is there
        FlushText();
        return blocks;
    }
}
