using System.Xml;
using System.Xml.Linq;
using SparseStorage.Packager;

namespace SparseStorage.PowerShell.Tests;

/// <summary>The packager: platyPS markdown to MAML, and the layout of the assembled module folder.</summary>
public sealed class PackagerTests : IDisposable
{
    private static readonly XNamespace Maml = MamlWriter.Maml;
    private static readonly XNamespace Command = MamlWriter.Command;
    private static readonly XNamespace Dev = MamlWriter.Dev;

    private readonly string _temp = Directory.CreateTempSubdirectory("packager-tests-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private const string Page = """
        ---
        external help file: SparseStorage.PowerShell.dll-Help.xml
        Module Name: SparseStorage
        online version:
        schema: 2.0.0
        ---

        # Mount-TestVolume

        ## SYNOPSIS
        Mounts a test volume.

        ## SYNTAX

        ### Name (Default)
        ```
        Mount-TestVolume [-Name] <String> [-Mode <MountMode>] [-ReadOnly] [-WhatIf]
         [<CommonParameters>]
        ```

        ### Path
        ```
        Mount-TestVolume -Path <String[]> [-Mode <MountMode>] [-ReadOnly] [-WhatIf] [<CommonParameters>]
        ```

        ## DESCRIPTION
        Attaches the image to a loop device
        and mounts it.

        A second paragraph.

        ## EXAMPLES

        ### Example 1: Mount by name
        ```powershell
        # A comment, not a heading
        Mount-TestVolume -Name web01
        ```

        Mounts web01 where its pool says.

        ### Example 2: Mount from the pipeline
        ```powershell
        Get-ChildItem /pool/*.img | Mount-TestVolume -ReadOnly
        ```

        ## PARAMETERS

        ### -Mode
        How to mount.

        ```yaml
        Type: MountMode
        Parameter Sets: (All)
        Aliases:
        Accepted values: Auto, Loop, Fuse

        Required: False
        Position: Named
        Default value: Auto
        Accept pipeline input: False
        Accept wildcard characters: False
        ```

        ### -Name
        The volume name.

        ```yaml
        Type: String
        Parameter Sets: Name
        Aliases:

        Required: True
        Position: 0
        Default value: None
        Accept pipeline input: False
        Accept wildcard characters: True
        ```

        ### -Path
        The image file.

        ```yaml
        Type: String[]
        Parameter Sets: Path
        Aliases: FullName, PSPath

        Required: True
        Position: Named
        Default value: None
        Accept pipeline input: True (ByPropertyName)
        Accept wildcard characters: False
        ```

        ### -ReadOnly
        Mount read-only.

        ```yaml
        Type: SwitchParameter
        Parameter Sets: (All)
        Aliases:

        Required: False
        Position: Named
        Default value: None
        Accept pipeline input: False
        Accept wildcard characters: False
        ```

        ### -WhatIf
        Shows what would happen.

        ```yaml
        Type: SwitchParameter
        Parameter Sets: (All)
        Aliases: wi

        Required: False
        Position: Named
        Default value: None
        Accept pipeline input: False
        Accept wildcard characters: False
        ```

        ### CommonParameters
        This cmdlet supports the common parameters.

        ## INPUTS

        ### System.String[]
        Image paths, by property name.

        ## OUTPUTS

        ### SparseStorage.Core.Volumes.SparseVolume
        The mounted volume.

        ## NOTES
        Needs root.

        ## RELATED LINKS

        [Dismount-TestVolume](Dismount-TestVolume.md)

        [Design](https://example.org/design)
        """;

    private static XElement Convert(string markdown = Page)
    {
        var document = MamlWriter.ToDocument([PlatyPsPage.Parse(markdown, "Mount-TestVolume.md")]);
        // Round-trip through text: what Get-Help reads is the serialized file.
        return XDocument.Parse(document.ToString()).Root!.Element(Command + "command")!;
    }

    private static XElement ParameterIn(XElement parent, string name) =>
        parent.Elements(Command + "parameter").Single(p => p.Element(Maml + "name")!.Value == name);

    [Fact]
    public void Help_file_has_the_maml_root_and_the_command_namespaces()
    {
        var file = Path.Combine(_temp, "out", "SparseStorage.PowerShell.dll-Help.xml");
        MamlWriter.Write([PlatyPsPage.Parse(Page, "Mount-TestVolume.md")], file);

        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit };
        using var reader = XmlReader.Create(file, settings);
        var document = XDocument.Load(reader);

        document.Root!.Name.Should().Be(XName.Get("helpItems", "http://msh"));
        document.Root.Attribute("schema")!.Value.Should().Be("maml");
        var command = document.Root.Elements(Command + "command").Should().ContainSingle().Subject;
        command.GetPrefixOfNamespace(Maml).Should().Be("maml");
        command.GetPrefixOfNamespace(Command).Should().Be("command");
        command.GetPrefixOfNamespace(Dev).Should().Be("dev");
    }

    [Fact]
    public void Details_carry_name_verb_noun_and_synopsis()
    {
        var details = Convert().Element(Command + "details")!;

        details.Element(Command + "name")!.Value.Should().Be("Mount-TestVolume");
        details.Element(Command + "verb")!.Value.Should().Be("Mount");
        details.Element(Command + "noun")!.Value.Should().Be("TestVolume");
        details.Element(Maml + "description")!.Elements(Maml + "para").Select(p => p.Value)
            .Should().Equal("Mounts a test volume.");
    }

    [Fact]
    public void Description_keeps_paragraphs_and_joins_wrapped_lines()
    {
        Convert().Element(Maml + "description")!.Elements(Maml + "para").Select(p => p.Value)
            .Should().Equal("Attaches the image to a loop device and mounts it.", "A second paragraph.");
    }

    [Fact]
    public void Parameters_take_their_attributes_from_the_yaml_block()
    {
        var parameters = Convert().Element(Command + "parameters")!;

        parameters.Elements(Command + "parameter").Select(p => p.Element(Maml + "name")!.Value)
            .Should().Equal("Mode", "Name", "Path", "ReadOnly", "WhatIf");

        var path = ParameterIn(parameters, "Path");
        path.Attribute("required")!.Value.Should().Be("true");
        path.Attribute("position")!.Value.Should().Be("named");
        path.Attribute("pipelineInput")!.Value.Should().Be("True (ByPropertyName)");
        path.Attribute("globbing")!.Value.Should().Be("false");
        path.Attribute("aliases")!.Value.Should().Be("FullName, PSPath");
        path.Element(Dev + "type")!.Element(Maml + "name")!.Value.Should().Be("String[]");
        path.Element(Maml + "description")!.Value.Should().Be("The image file.");

        var name = ParameterIn(parameters, "Name");
        name.Attribute("required")!.Value.Should().Be("true");
        name.Attribute("position")!.Value.Should().Be("0");
        name.Attribute("pipelineInput")!.Value.Should().Be("False");
        name.Attribute("globbing")!.Value.Should().Be("true");
        name.Attribute("aliases")!.Value.Should().Be("none");

        var readOnly = ParameterIn(parameters, "ReadOnly");
        readOnly.Attribute("required")!.Value.Should().Be("false");
        readOnly.Element(Dev + "defaultValue")!.Value.Should().Be("False");
    }

    [Fact]
    public void Syntax_has_one_item_per_parameter_set_with_its_parameters()
    {
        var items = Convert().Element(Command + "syntax")!.Elements(Command + "syntaxItem").ToList();

        items.Should().HaveCount(2);
        items.Should().AllSatisfy(i => i.Element(Maml + "name")!.Value.Should().Be("Mount-TestVolume"));
        items[0].Elements(Command + "parameter").Select(p => p.Element(Maml + "name")!.Value)
            .Should().Equal("Name", "Mode", "ReadOnly", "WhatIf");
        items[1].Elements(Command + "parameter").Select(p => p.Element(Maml + "name")!.Value)
            .Should().Equal("Path", "Mode", "ReadOnly", "WhatIf");

        ParameterIn(items[1], "Path").Attribute("pipelineInput")!.Value.Should().Be("True (ByPropertyName)");
        // A switch shows no value placeholder in a syntax line, as in platyPS output.
        ParameterIn(items[0], "ReadOnly").Element(Command + "parameterValue").Should().BeNull();
        ParameterIn(items[0], "Name").Element(Command + "parameterValue")!.Value.Should().Be("String");
        // Accepted values become the '{Auto | Loop | Fuse}' group of the syntax line.
        ParameterIn(items[1], "Mode").Element(Command + "parameterValueGroup")!.Elements(Command + "parameterValue")
            .Select(v => v.Value).Should().Equal("Auto", "Loop", "Fuse");
        ParameterIn(items[1], "Mode").Element(Dev + "defaultValue")!.Value.Should().Be("Auto");
    }

    [Fact]
    public void Examples_keep_title_code_and_remarks()
    {
        var examples = Convert().Element(Command + "examples")!.Elements(Command + "example").ToList();

        examples.Should().HaveCount(2);
        examples[0].Element(Maml + "title")!.Value
            .Should().Be("-------------------------- Example 1: Mount by name --------------------------");
        examples[0].Element(Dev + "code")!.Value
            .Should().Be("# A comment, not a heading\nMount-TestVolume -Name web01");
        examples[0].Element(Dev + "remarks")!.Elements(Maml + "para").Select(p => p.Value)
            .Should().Equal("Mounts web01 where its pool says.");
        examples[1].Element(Dev + "code")!.Value
            .Should().Be("Get-ChildItem /pool/*.img | Mount-TestVolume -ReadOnly");
    }

    [Fact]
    public void Inputs_outputs_notes_and_links_are_carried_over()
    {
        var command = Convert();

        command.Element(Command + "inputTypes")!.Descendants(Maml + "name").Single().Value.Should().Be("System.String[]");
        command.Element(Command + "returnValues")!.Descendants(Maml + "name").Single().Value
            .Should().Be("SparseStorage.Core.Volumes.SparseVolume");
        command.Element(Maml + "alertSet")!.Value.Should().Be("Needs root.");
        var links = command.Element(Maml + "relatedLinks")!.Elements(Maml + "navigationLink")
            .Select(l => (l.Element(Maml + "linkText")!.Value, l.Element(Maml + "uri")!.Value));
        // A relative link keeps its text but not its target, which Get-Help could not open.
        links.Should().Equal(("Dismount-TestVolume", ""), ("Design", "https://example.org/design"));
    }

    [Fact]
    public void A_single_unnamed_syntax_block_is_one_set_holding_every_parameter()
    {
        const string page = """
            # Get-TestHost

            ## SYNOPSIS
            Describes the host.

            ## SYNTAX

            ```
            Get-TestHost [-Refresh] [<CommonParameters>]
            ```

            ## DESCRIPTION
            Reads what the host can do.

            ## EXAMPLES

            ### Example 1: Everything
            ```powershell
            Get-TestHost
            ```

            ## PARAMETERS

            ### -Refresh
            Probe again.

            ```yaml
            Type: SwitchParameter
            Parameter Sets: Default
            Aliases:

            Required: False
            Position: Named
            Default value: None
            Accept pipeline input: False
            Accept wildcard characters: False
            ```
            """;

        var command = MamlWriter.ToDocument([PlatyPsPage.Parse(page, "Get-TestHost.md")]).Root!.Element(Command + "command")!;

        var item = command.Element(Command + "syntax")!.Elements(Command + "syntaxItem").Should().ContainSingle().Subject;
        item.Elements(Command + "parameter").Select(p => p.Element(Maml + "name")!.Value).Should().Equal("Refresh");
        command.Element(Maml + "relatedLinks")!.Elements().Should().BeEmpty();
    }

    [Theory]
    [InlineData("## SYNOPSIS\nMounts a test volume.\n", "## SYNOPSIS")]
    [InlineData("## DESCRIPTION\nAttaches the image to a loop device\nand mounts it.\n\nA second paragraph.\n", "## DESCRIPTION")]
    public void A_page_without_a_required_section_fails_naming_the_file_and_heading(string removed, string heading)
    {
        Page.Should().Contain(removed);
        var act = () => PlatyPsPage.Parse(Page.Replace(removed, ""), "Mount-TestVolume.md");

        act.Should().Throw<PackagerException>()
            .WithMessage($"*Mount-TestVolume.md*{heading}*");
    }

    [Fact]
    public void A_page_without_examples_fails_naming_the_file()
    {
        var withoutExamples = Page[..Page.IndexOf("## EXAMPLES", StringComparison.Ordinal)]
            + Page[Page.IndexOf("## PARAMETERS", StringComparison.Ordinal)..];

        var act = () => PlatyPsPage.Parse(withoutExamples, "Mount-TestVolume.md");

        act.Should().Throw<PackagerException>().WithMessage("*Mount-TestVolume.md*## EXAMPLES*");
    }

    [Fact]
    public void A_parameter_without_its_yaml_block_fails_naming_the_file_and_parameter()
    {
        var start = Page.IndexOf("```yaml\nType: SwitchParameter\nParameter Sets: (All)\nAliases:\n", StringComparison.Ordinal);
        var end = Page.IndexOf("```\n", start + 7, StringComparison.Ordinal) + 4;

        var act = () => PlatyPsPage.Parse(Page[..start] + Page[end..], "Mount-TestVolume.md");

        act.Should().Throw<PackagerException>().WithMessage("*Mount-TestVolume.md*### -ReadOnly*yaml*");
    }

    [Fact]
    public void A_parameter_set_not_under_syntax_is_reported()
    {
        var act = () => PlatyPsPage.Parse(Page.Replace("Parameter Sets: Path", "Parameter Sets: ByPath"), "Mount-TestVolume.md");

        act.Should().Throw<PackagerException>().WithMessage("*Mount-TestVolume.md*### -Path*ByPath*");
    }

    [Fact]
    public void Help_command_converts_cmdlet_pages_and_skips_about_and_readme()
    {
        var docs = Directory.CreateDirectory(Path.Combine(_temp, "docs")).FullName;
        File.WriteAllText(Path.Combine(docs, "Mount-TestVolume.md"), Page);
        File.WriteAllText(Path.Combine(docs, "about_SparseStorage.md"), "# about_SparseStorage\n");
        File.WriteAllText(Path.Combine(docs, "README.md"), "# Docs\n");
        var output = Path.Combine(_temp, "help", "SparseStorage.PowerShell.dll-Help.xml");
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = Program.Run(["help", "--docs", docs, "--out", output], stdout, stderr);

        exitCode.Should().Be(0, stderr.ToString());
        XDocument.Load(output).Descendants(Command + "name").Select(n => n.Value).Should().Equal("Mount-TestVolume");
    }

    [Fact]
    public void Help_command_exits_non_zero_naming_the_bad_page()
    {
        var docs = Directory.CreateDirectory(Path.Combine(_temp, "docs")).FullName;
        File.WriteAllText(Path.Combine(docs, "Mount-TestVolume.md"), Page.Replace("## SYNOPSIS\nMounts a test volume.\n", ""));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = Program.Run(["help", "--docs", docs, "--out", Path.Combine(_temp, "h.xml")], stdout, stderr);

        exitCode.Should().Be(1);
        stderr.ToString().Should().Contain("Mount-TestVolume.md").And.Contain("## SYNOPSIS");
        File.Exists(Path.Combine(_temp, "h.xml")).Should().BeFalse();
    }

    [Fact]
    public void Assemble_lays_out_the_versioned_module_folder()
    {
        var root = CreateFakeRepository();
        var output = Path.Combine(_temp, "out");
        var stale = Path.Combine(output, "SparseStorage", "9.9.9", "stale.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(stale)!);
        File.WriteAllText(stale, "from an earlier build");
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = Program.Run(["assemble", "--root", root, "--configuration", "Release", "--out", output], stdout, stderr);

        exitCode.Should().Be(0, stderr.ToString());
        var folder = Path.Combine(output, "SparseStorage", "9.9.9");
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Should().BeEquivalentTo(
                "SparseStorage.psd1",
                "SparseStorage.format.ps1xml",
                "SparseStorage.types.ps1xml",
                "SparseStorage.Core.dll",
                "SparseStorage.Core.pdb",
                "SparseStorage.PowerShell.dll",
                "SparseStorage.PowerShell.pdb",
                "SparseStorage.PowerShell.deps.json",
                "en-US/about_SparseStorage.help.txt",
                "en-US/SparseStorage.PowerShell.dll-Help.xml");
        File.ReadAllText(Path.Combine(folder, "SparseStorage.PowerShell.dll")).Should().Be("cmdlets");
        XDocument.Load(Path.Combine(folder, "en-US", "SparseStorage.PowerShell.dll-Help.xml"))
            .Descendants(Command + "name").Single().Value.Should().Be("Mount-TestVolume");
        var dscFolder = Path.Combine(output, "SparseStorageDsc", "9.9.9");
        Directory.EnumerateFiles(dscFolder).Select(Path.GetFileName).Should().BeEquivalentTo("SparseStorageDsc.psd1", "SparseStorageDsc.psm1");
        stdout.ToString().Trim().Split('\n').Should().HaveCount(2)
            .And.SatisfyRespectively(
                line => line.Should().Contain(folder).And.Contain("10 files"),
                line => line.Should().Contain(dscFolder).And.Contain("2 files"));
    }

    [Theory]
    [InlineData("ModuleVersion     = '9.9.9'", "ModuleVersion     = '9.9.8'", "ModuleVersion 9.9.8")]
    [InlineData("RequiredVersion = '9.9.9'", "RequiredVersion = '9.9.8'", "RequiredVersion = '9.9.9'")]
    [InlineData("ModuleName      = 'SparseStorage'", "ModuleName      = 'Other'", "ModuleName = 'SparseStorage'")]
    public void Assemble_fails_when_the_DSC_module_does_not_require_this_version_of_SparseStorage(string line, string replacement, string message)
    {
        var root = CreateFakeRepository();
        var dscManifest = Path.Combine(root, "module", "SparseStorageDsc", "SparseStorageDsc.psd1");
        File.WriteAllText(dscManifest, File.ReadAllText(dscManifest).Replace(line, replacement));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = Program.Run(["assemble", "--root", root, "--configuration", "Release", "--out", Path.Combine(_temp, "out")], stdout, stderr);

        exitCode.Should().Be(1);
        stderr.ToString().Should().Contain("SparseStorageDsc.psd1").And.Contain(message);
        Directory.Exists(Path.Combine(_temp, "out")).Should().BeFalse();
    }

    [Fact]
    public void Assemble_fails_with_a_message_when_an_assembly_is_missing()
    {
        var root = CreateFakeRepository();
        File.Delete(Path.Combine(root, "src", "SparseStorage.PowerShell", "bin", "Release", "net8.0", "SparseStorage.Core.dll"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = Program.Run(["assemble", "--root", root, "--configuration", "Release", "--out", Path.Combine(_temp, "out")], stdout, stderr);

        exitCode.Should().Be(1);
        stderr.ToString().Should().Contain("SparseStorage.Core.dll");
        Directory.Exists(Path.Combine(_temp, "out")).Should().BeFalse();
    }

    [Fact]
    public void Assemble_fails_when_the_manifest_names_a_file_the_package_lacks()
    {
        var root = CreateFakeRepository();
        File.Delete(Path.Combine(root, "module", "SparseStorage.types.ps1xml"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = Program.Run(["assemble", "--root", root, "--configuration", "Release", "--out", Path.Combine(_temp, "out")], stdout, stderr);

        exitCode.Should().Be(1);
        stderr.ToString().Should().Contain("TypesToProcess").And.Contain("SparseStorage.types.ps1xml");
    }

    [Theory]
    [InlineData("assemble", "--root", "x", "--configuration", "Release")]
    [InlineData("assemble", "--root", "x", "--configuration", "Release", "--out", "y", "--extra", "z")]
    [InlineData("package")]
    public void Bad_command_lines_are_usage_errors(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        Program.Run(args, stdout, stderr).Should().Be(2);
        stderr.ToString().Should().Contain("usage:");
    }

    /// <summary>A repository as the packager sees it after a Release build, with stand-in files for the build output.</summary>
    private string CreateFakeRepository()
    {
        var root = Path.Combine(_temp, "repo");
        void Write(string relative, string content)
        {
            var path = Path.Combine(root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, content);
        }

        Write("SparseStorage.psd1", """
            @{
                RootModule        = 'SparseStorage.PowerShell.dll'
                ModuleVersion     = '9.9.9'
                FormatsToProcess  = @('SparseStorage.format.ps1xml')
                TypesToProcess    = @('SparseStorage.types.ps1xml')
                CmdletsToExport   = @(
                    'Mount-TestVolume'
                )
            }
            """);
        Write("module/SparseStorageDsc/SparseStorageDsc.psd1", """
            @{
                RootModule        = 'SparseStorageDsc.psm1'
                ModuleVersion     = '9.9.9'
                RequiredModules   = @(
                    @{
                        ModuleName      = 'SparseStorage'
                        RequiredVersion = '9.9.9'
                    }
                )
                DscResourcesToExport = @('TestResource')
            }
            """);
        Write("module/SparseStorageDsc/SparseStorageDsc.psm1", "Set-StrictMode -Version Latest");
        Write("module/SparseStorage.format.ps1xml", "<Configuration />");
        Write("module/SparseStorage.types.ps1xml", "<Types />");
        Write("module/en-US/about_SparseStorage.help.txt", "TOPIC");
        var bin = "src/SparseStorage.PowerShell/bin/Release/net8.0/";
        Write(bin + "SparseStorage.PowerShell.dll", "cmdlets");
        Write(bin + "SparseStorage.PowerShell.pdb", "pdb");
        Write(bin + "SparseStorage.PowerShell.deps.json", "{}");
        Write(bin + "SparseStorage.Core.dll", "core");
        Write(bin + "SparseStorage.Core.pdb", "pdb");
        Write(bin + "System.Management.Automation.dll", "reference assembly; must not be packaged");
        Write("docs/en-US/Mount-TestVolume.md", Page);
        Write("docs/en-US/about_SparseStorage.md", "# about_SparseStorage");
        return root;
    }
}
