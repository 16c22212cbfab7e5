using System.Text.RegularExpressions;

namespace SparseStorage.Packager;

/// <summary>What one ```yaml block under a parameter says; platyPS writes one block per group of parameter sets that differ.</summary>
public sealed record ParameterMetadata(
    IReadOnlyList<string> ParameterSets,
    string Type,
    IReadOnlyList<string> Aliases,
    bool Required,
    string Position,
    string DefaultValue,
    string PipelineInput,
    bool Globbing,
    IReadOnlyList<string> AcceptedValues)
{
    public const string AllSets = "(All)";

    /// <summary>The name platyPS gives the only set of a cmdlet without named sets; every parameter is in it.</summary>
    public const string AllParameterSets = "__AllParameterSets";

    public bool AppliesTo(string parameterSet) =>
        parameterSet == AllParameterSets
        || ParameterSets.Any(s => s == AllSets || string.Equals(s, parameterSet, StringComparison.OrdinalIgnoreCase));

    public bool IsSwitch => Type is "SwitchParameter" or "switch" or "System.Management.Automation.SwitchParameter";
}

public sealed record HelpParameter(string Name, IReadOnlyList<string> Description, IReadOnlyList<ParameterMetadata> Metadata);

public sealed record HelpExample(string Title, string Code, IReadOnlyList<string> Remarks);

public sealed record HelpType(string TypeName, IReadOnlyList<string> Description);

public sealed record HelpLink(string Text, string Uri);

/// <summary>A parameter set as written under ## SYNTAX: its name and the syntax line(s).</summary>
public sealed record SyntaxSet(string Name, string Text);

/// <summary>One cmdlet page in the platyPS markdown layout (schema 2.0.0).</summary>
public sealed partial class PlatyPsPage
{
    public required string Name { get; init; }
    public required IReadOnlyList<string> Synopsis { get; init; }
    public required IReadOnlyList<string> Description { get; init; }
    public required IReadOnlyList<SyntaxSet> SyntaxSets { get; init; }
    public required IReadOnlyList<HelpParameter> Parameters { get; init; }
    public required IReadOnlyList<HelpType> Inputs { get; init; }
    public required IReadOnlyList<HelpType> Outputs { get; init; }
    public required IReadOnlyList<string> Notes { get; init; }
    public required IReadOnlyList<HelpExample> Examples { get; init; }
    public required IReadOnlyList<HelpLink> Links { get; init; }

    /// <summary>The 'online version' of the front matter, when it is an absolute URI.</summary>
    public string? OnlineVersion { get; init; }

    [GeneratedRegex(@"\[(?<text>[^\]]+)\]\((?<uri>[^)\s]*)\)")]
    private static partial Regex LinkPattern();

    public static PlatyPsPage Load(string path) =>
        Parse(File.ReadAllText(path), Path.GetFileName(path));

    /// <summary>Parses a page. <paramref name="fileName"/> names the page in error messages.</summary>
    public static PlatyPsPage Parse(string markdown, string fileName)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        var (frontMatter, bodyStart) = ReadFrontMatter(lines);
        var root = MarkdownOutline.Parse(lines.Skip(bodyStart));
        var title = root.Children.FirstOrDefault()
            ?? throw Fail(fileName, "# <cmdlet name>", "the page has no level-1 heading with the cmdlet name");
        if (!string.Equals(Path.GetFileNameWithoutExtension(fileName), title.Title, StringComparison.OrdinalIgnoreCase))
            throw Fail(fileName, $"# {title.Title}", $"the page is named after '{title.Title}' but its file is '{fileName}'");
        var context = new PageContext(fileName, title);
        var syntax = ReadSyntax(title.Child("SYNTAX"));
        var parameters = ReadParameters(context);
        CheckParameterSets(context, syntax, parameters);

        return new PlatyPsPage
        {
            Name = title.Title,
            Synopsis = context.RequiredText("SYNOPSIS"),
            Description = context.RequiredText("DESCRIPTION"),
            SyntaxSets = syntax.Count > 0 ? syntax : DeriveSyntaxSets(parameters),
            Parameters = parameters,
            Inputs = ReadTypes(title.Child("INPUTS")),
            Outputs = ReadTypes(title.Child("OUTPUTS")),
            Notes = title.Child("NOTES") is { } notes ? Flatten(notes) : [],
            Examples = ReadExamples(context),
            Links = ReadLinks(title.Child("RELATED LINKS")),
            OnlineVersion = frontMatter.TryGetValue("online version", out var online) && IsWebUri(online) ? online : null,
        };
    }

    /// <summary>An http(s) address. On Linux a bare '/path' also parses as an absolute (file) URI, which Get-Help cannot open.</summary>
    public static bool IsWebUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    internal static PackagerException Fail(string fileName, string heading, string problem) =>
        new($"{fileName}: {heading}: {problem}");

    private static (Dictionary<string, string> Values, int BodyStart) ReadFrontMatter(string[] lines)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (lines.Length == 0 || lines[0].Trim() != "---")
            return (values, 0);
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Trim() == "---")
                return (values, i + 1);
            var colon = lines[i].IndexOf(':');
            if (colon > 0)
                values[lines[i][..colon].Trim()] = lines[i][(colon + 1)..].Trim();
        }
        return (values, 0); // no closing '---': not front matter after all
    }

    /// <summary>The '### SetName' sub-headings; a cmdlet with one set has just a fenced block, which platyPS writes without a heading.</summary>
    private static List<SyntaxSet> ReadSyntax(MarkdownSection? syntax)
    {
        if (syntax is null)
            return [];
        if (syntax.Children.Count == 0)
            return syntax.Blocks().Any(b => b.IsFence)
                ? [new SyntaxSet(ParameterMetadata.AllParameterSets, FencedText(syntax))]
                : [];
        return syntax.Children.Select(set => new SyntaxSet(SetName(set.Title), FencedText(set))).ToList();
    }

    private static string FencedText(MarkdownSection section) =>
        string.Join("\n", section.Blocks().Where(b => b.IsFence).Select(b => b.Text));

    /// <summary>platyPS marks the default set as '### Name (Default)'.</summary>
    private static string SetName(string heading) =>
        heading.EndsWith("(Default)", StringComparison.OrdinalIgnoreCase) ? heading[..^"(Default)".Length].TrimEnd() : heading;

    private static List<SyntaxSet> DeriveSyntaxSets(IReadOnlyList<HelpParameter> parameters)
    {
        var names = parameters.SelectMany(p => p.Metadata).SelectMany(m => m.ParameterSets)
            .Where(s => s != ParameterMetadata.AllSets)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();
        return names.Count == 0
            ? [new SyntaxSet(ParameterMetadata.AllParameterSets, "")]
            : names.Select(n => new SyntaxSet(n, "")).ToList();
    }

    private static List<HelpParameter> ReadParameters(PageContext context)
    {
        var section = context.Title.Child("PARAMETERS");
        if (section is null)
            return [];
        return section.Children
            .Where(p => !string.Equals(p.Title, "CommonParameters", StringComparison.OrdinalIgnoreCase))
            .Select(p => ReadParameter(context.FileName, p))
            .ToList();
    }

    private static HelpParameter ReadParameter(string fileName, MarkdownSection section)
    {
        var heading = $"### {section.Title}";
        if (!section.Title.StartsWith('-') || section.Title.Length < 2)
            throw Fail(fileName, heading, "a parameter heading under '## PARAMETERS' must be '### -Name'");
        var blocks = section.Blocks();
        var yaml = blocks.Where(b => b.IsFence && b.Language.Equals("yaml", StringComparison.OrdinalIgnoreCase)).ToList();
        if (yaml.Count == 0)
            throw Fail(fileName, heading, "the parameter has no ```yaml block (Type, Parameter Sets, Aliases, Required, Position, ...)");
        return new HelpParameter(
            section.Title[1..],
            blocks.Where(b => !b.IsFence).Select(b => b.Text).ToList(),
            yaml.Select(b => ParameterYaml.Read(b.Text, fileName, heading)).ToList());
    }

    private static void CheckParameterSets(PageContext context, List<SyntaxSet> syntax, List<HelpParameter> parameters)
    {
        if (syntax.Count == 0 || syntax.Any(s => s.Name == ParameterMetadata.AllParameterSets))
            return;
        foreach (var parameter in parameters)
        {
            var unknown = parameter.Metadata.SelectMany(m => m.ParameterSets)
                .FirstOrDefault(s => s != ParameterMetadata.AllSets
                    && !syntax.Any(set => string.Equals(set.Name, s, StringComparison.OrdinalIgnoreCase)));
            if (unknown is not null)
                throw Fail(context.FileName, $"### -{parameter.Name}",
                    $"parameter set '{unknown}' is not one of the '### <set>' headings under '## SYNTAX' ({string.Join(", ", syntax.Select(s => s.Name))})");
        }
    }

    private static List<HelpExample> ReadExamples(PageContext context)
    {
        var section = context.Title.Child("EXAMPLES");
        if (section is null || section.Children.Count == 0)
            throw Fail(context.FileName, "## EXAMPLES", "missing, or without any '### Example N: title'");
        return section.Children.Select(example =>
        {
            var blocks = example.Blocks();
            var code = blocks.Where(b => b.IsFence).Select(b => b.Text).ToList();
            if (code.Count == 0)
                throw Fail(context.FileName, $"### {example.Title}", "the example has no fenced code block");
            return new HelpExample(
                example.Title,
                string.Join("\n\n", code),
                blocks.Where(b => !b.IsFence).Select(b => b.Text).ToList());
        }).ToList();
    }

    private static List<HelpType> ReadTypes(MarkdownSection? section) =>
        section is null ? [] : section.Children.Select(t => new HelpType(t.Title, t.Paragraphs())).ToList();

    private static List<HelpLink> ReadLinks(MarkdownSection? section) =>
        section is null
            ? []
            : LinkPattern().Matches(string.Join("\n", section.Body))
                .Select(m => new HelpLink(m.Groups["text"].Value, m.Groups["uri"].Value))
                .ToList();

    /// <summary>A section's own paragraphs followed by those of its sub-headings (with the heading as a paragraph).</summary>
    private static List<string> Flatten(MarkdownSection section) =>
        section.Paragraphs()
            .Concat(section.Children.SelectMany(c => new[] { c.Title }.Concat(Flatten(c))))
            .ToList();

    private sealed record PageContext(string FileName, MarkdownSection Title)
    {
        /// <summary>The paragraphs of a '## heading' that every page must have, with real text in it.</summary>
        public IReadOnlyList<string> RequiredText(string heading)
        {
            var section = Title.Child(heading);
            var paragraphs = section is null ? [] : Flatten(section);
            if (paragraphs.Count == 0)
                throw Fail(FileName, $"## {heading}", section is null ? "missing" : "empty");
            if (paragraphs.Any(p => p.Contains("{{ Fill", StringComparison.Ordinal) || p.Contains("{{ Add", StringComparison.Ordinal)))
                throw Fail(FileName, $"## {heading}", "still holds a platyPS '{{ ... }}' placeholder");
            return paragraphs;
        }
    }
}
