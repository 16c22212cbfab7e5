using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;

namespace SparseStorage.Packager;

/// <summary>
/// Writes cmdlet pages as one MAML help file, the '&lt;Assembly&gt;.dll-Help.xml' that Get-Help reads for a binary
/// module. The element layout follows what platyPS's New-ExternalHelp emits.
/// </summary>
public static class MamlWriter
{
    public static readonly XNamespace Msh = "http://msh";
    public static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    public static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    public static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    private static readonly string ExampleBar = new('-', 26);

    /// <summary>Converts every cmdlet page in <paramref name="docsDirectory"/> and writes <paramref name="outputFile"/>. Returns the pages written.</summary>
    public static IReadOnlyList<PlatyPsPage> ConvertDirectory(string docsDirectory, string outputFile)
    {
        if (!Directory.Exists(docsDirectory))
            throw new PackagerException($"The help source folder '{docsDirectory}' does not exist.");
        var pages = CmdletPageFiles(docsDirectory).Select(PlatyPsPage.Load).ToList();
        if (pages.Count == 0)
            throw new PackagerException($"No cmdlet pages (<Verb-Noun>.md) in '{docsDirectory}'.");
        Write(pages, outputFile);
        return pages;
    }

    /// <summary>The cmdlet pages of a docs folder: every *.md except about_*.md and README.md, in a stable order.</summary>
    public static IEnumerable<string> CmdletPageFiles(string docsDirectory) =>
        Directory.EnumerateFiles(docsDirectory, "*.md")
            .Where(f => !Path.GetFileName(f).StartsWith("about_", StringComparison.OrdinalIgnoreCase)
                && !Path.GetFileName(f).Equals("README.md", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal);

    public static void Write(IEnumerable<PlatyPsPage> pages, string outputFile)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(outputFile));
        if (directory is not null)
            Directory.CreateDirectory(directory);
        var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false) };
        using var writer = XmlWriter.Create(outputFile, settings);
        ToDocument(pages).Save(writer);
    }

    public static XDocument ToDocument(IEnumerable<PlatyPsPage> pages) =>
        new(new XDeclaration("1.0", "utf-8", null),
            new XElement(Msh + "helpItems",
                new XAttribute("schema", "maml"),
                pages.Select(CommandElement)));

    private static XElement CommandElement(PlatyPsPage page)
    {
        var dash = page.Name.IndexOf('-');
        var verb = dash > 0 ? page.Name[..dash] : page.Name;
        var noun = dash > 0 ? page.Name[(dash + 1)..] : "";
        return new XElement(Command + "command",
            new XAttribute(XNamespace.Xmlns + "maml", Maml),
            new XAttribute(XNamespace.Xmlns + "command", Command),
            new XAttribute(XNamespace.Xmlns + "dev", Dev),
            new XElement(Command + "details",
                new XElement(Command + "name", page.Name),
                new XElement(Maml + "description", Paras(page.Synopsis)),
                new XElement(Command + "verb", verb),
                new XElement(Command + "noun", noun)),
            new XElement(Maml + "description", Paras(page.Description)),
            new XElement(Command + "syntax", page.SyntaxSets.Select(set => SyntaxItem(page, set))),
            new XElement(Command + "parameters", page.Parameters.Select(p => Parameter(p, p.Metadata[0], inSyntax: false))),
            new XElement(Command + "inputTypes", page.Inputs.Select(t => TypeElement("inputType", t))),
            new XElement(Command + "returnValues", page.Outputs.Select(t => TypeElement("returnValue", t))),
            new XElement(Maml + "alertSet", new XElement(Maml + "alert", Paras(page.Notes))),
            new XElement(Command + "examples", page.Examples.Select(Example)),
            new XElement(Maml + "relatedLinks", Links(page)));
    }

    private static XElement SyntaxItem(PlatyPsPage page, SyntaxSet set)
    {
        var members = page.Parameters
            .Select(p => (Parameter: p, Metadata: p.Metadata.FirstOrDefault(m => m.AppliesTo(set.Name))))
            .Where(x => x.Metadata is not null)
            .OrderBy(x => OrderInSyntax(set.Text, x.Parameter.Name));
        return new XElement(Command + "syntaxItem",
            new XElement(Maml + "name", page.Name),
            members.Select(x => Parameter(x.Parameter, x.Metadata!, inSyntax: true)));
    }

    /// <summary>Where '-Name' stands in the set's syntax line, so Get-Help shows parameters in the order the page does; unknown ones go last.</summary>
    private static int OrderInSyntax(string syntaxText, string parameterName)
    {
        var match = Regex.Match(syntaxText, $@"-{Regex.Escape(parameterName)}\b", RegexOptions.IgnoreCase);
        return match.Success ? match.Index : int.MaxValue;
    }

    private static XElement Parameter(HelpParameter parameter, ParameterMetadata metadata, bool inSyntax)
    {
        var type = metadata.IsSwitch ? "SwitchParameter" : metadata.Type;
        return new XElement(Command + "parameter",
            new XAttribute("required", Bool(metadata.Required)),
            new XAttribute("variableLength", "true"),
            new XAttribute("globbing", Bool(metadata.Globbing)),
            new XAttribute("pipelineInput", metadata.PipelineInput),
            new XAttribute("position", metadata.Position),
            new XAttribute("aliases", metadata.Aliases.Count > 0 ? string.Join(", ", metadata.Aliases) : "none"),
            new XElement(Maml + "name", parameter.Name),
            new XElement(Maml + "description", Paras(parameter.Description)),
            // Get-Help shows these as '-Name {A | B}' in the syntax line.
            inSyntax && metadata.AcceptedValues.Count > 0
                ? new XElement(Command + "parameterValueGroup", metadata.AcceptedValues.Select(v =>
                    new XElement(Command + "parameterValue",
                        new XAttribute("required", "false"),
                        new XAttribute("variableLength", "false"),
                        v)))
                : null,
            // Like platyPS: no value placeholder for a switch inside a syntax line.
            inSyntax && metadata.IsSwitch
                ? null
                : new XElement(Command + "parameterValue",
                    new XAttribute("required", Bool(!metadata.IsSwitch)),
                    new XAttribute("variableLength", "false"),
                    type),
            new XElement(Dev + "type", new XElement(Maml + "name", type), new XElement(Maml + "uri")),
            new XElement(Dev + "defaultValue", metadata.IsSwitch && metadata.DefaultValue == "None" ? "False" : metadata.DefaultValue));
    }

    private static XElement TypeElement(string elementName, HelpType type) =>
        new(Command + elementName,
            new XElement(Dev + "type", new XElement(Maml + "name", type.TypeName)),
            new XElement(Maml + "description", Paras(type.Description)));

    private static XElement Example(HelpExample example) =>
        new(Command + "example",
            new XElement(Maml + "title", $"{ExampleBar} {example.Title} {ExampleBar}"),
            new XElement(Dev + "code", example.Code),
            new XElement(Dev + "remarks", Paras(example.Remarks)));

    /// <summary>
    /// Get-Help -Online opens the first link with a URI, so the front matter's online version leads. Relative links
    /// (to sibling .md pages) keep their text and lose the URI, which Get-Help could not open (platyPS does the same).
    /// </summary>
    private static IEnumerable<XElement> Links(PlatyPsPage page)
    {
        var links = page.Links.Select(l => (l.Text, Uri: PlatyPsPage.IsWebUri(l.Uri) ? l.Uri : ""));
        if (page.OnlineVersion is not null && !page.Links.Any(l => l.Uri == page.OnlineVersion))
            links = links.Prepend(("Online Version:", page.OnlineVersion));
        return links.Select(l => new XElement(Maml + "navigationLink",
            new XElement(Maml + "linkText", l.Text),
            new XElement(Maml + "uri", l.Uri)));
    }

    private static IEnumerable<XElement> Paras(IEnumerable<string> paragraphs) =>
        paragraphs.Select(p => new XElement(Maml + "para", p));

    private static string Bool(bool value) => value ? "true" : "false";
}
