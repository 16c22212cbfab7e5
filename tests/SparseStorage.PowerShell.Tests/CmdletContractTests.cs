using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace SparseStorage.PowerShell.Tests;

/// <summary>The cmdlet surface as PowerShell will see it, read from the compiled assembly's metadata.</summary>
public sealed class CmdletContractTests : IDisposable
{
    private static readonly string[] ReadOnlyVerbs = ["Get", "Find", "Test", "Measure", "Show"];
    private readonly CmdletAssembly assembly = new();

    /// <summary>Exactly the parameters each cmdlet has, so a change to the surface is a deliberate one.</summary>
    public static TheoryData<string, string[]> Surfaces => new()
    {
        { "Get-StorageHost", [] },
        { "Register-StoragePool", ["Name", "Path", "MaxOvercommit", "CephPool", "CephConfig", "CephUser", "CephKeyring", "CephNamespace"] },
        { "Get-StoragePool", ["Name"] },
        { "Unregister-StoragePool", ["Name", "InputObject", "PassThru"] },
        { "New-SparseVolume", ["Name", "Pool", "Path", "Size", "Format", "Preallocation", "FileSystem", "Label", "Replace", "Force"] },
        { "Get-SparseVolume", ["Name", "Pool", "Path", "LoopDevice"] },
        { "Remove-SparseVolume", ["Name", "Pool", "Path", "Wipe", "Force", "PassThru"] },
        { "Mount-SparseVolume", ["Name", "Pool", "Path", "MountPoint", "ReadOnly", "AllowDiscards", "BreakLockOf", "Passphrase", "KeyFile"] },
        { "Dismount-SparseVolume", ["Name", "Pool", "Path", "PassThru"] },
        { "Resize-SparseVolume", ["Name", "Pool", "Path", "Size", "Delta", "ToMinimumSize", "Force"] },
        { "Copy-SparseVolume", ["Name", "Pool", "Path", "Destination", "Linked", "DetectZeroes", "Replace", "AllowInUseSource", "Force"] },
        { "Optimize-SparseVolume", ["Name", "Pool", "Path"] },
        { "Test-SparseVolume", ["Name", "Pool", "Path", "Quiet"] },
        { "New-VolumeSnapshot", ["Volume", "Pool", "VolumePath", "Name", "AllowUnpausedWrites", "Force"] },
        { "Get-VolumeSnapshot", ["Volume", "Pool", "VolumePath", "Name"] },
        { "Restore-VolumeSnapshot", ["Volume", "Pool", "VolumePath", "Name", "Force", "PassThru"] },
        { "Remove-VolumeSnapshot", ["Volume", "Pool", "VolumePath", "Name", "Force", "PassThru"] },
        { "Backup-SparseVolume", ["Name", "Pool", "Path", "Destination", "Full", "Keep", "IntegrityKeyFile", "AllowUnpausedWrites", "Force"] },
        { "Restore-SparseVolume", ["Backup", "Destination", "IntegrityKeyFile", "AllowUnsigned", "Force"] },
        { "Get-VolumeBackup", ["Destination", "Volume"] },
        { "Remove-VolumeBackup", ["Backup", "IncludeDependants", "Force", "PassThru"] },
        { "Compress-SparseVolume", ["Name", "Pool", "Path", "Destination", "Level", "Replace", "AllowInUseSource", "Force"] },
        { "Expand-SparseVolume", ["Path", "Destination", "Replace", "Force"] },
        { "Protect-Volume", ["Name", "Pool", "Path", "Container", "IterationTime", "WipePlaintext", "PassThru", "Passphrase", "KeyFile"] },
        { "Unprotect-Volume", ["Name", "Pool", "Path", "PassThru", "Passphrase", "KeyFile"] },
        { "Unlock-Volume", ["Name", "Pool", "Path", "ReadOnly", "AllowDiscards", "PassThru", "Passphrase", "KeyFile"] },
        { "Lock-Volume", ["Name", "Pool", "Path", "Dismount", "LazyUnmount", "Force", "PassThru"] },
        { "Add-VolumeKey", ["Name", "Pool", "Path", "NewPassphrase", "NewKeyFile", "IterationTime", "PassThru", "Passphrase", "KeyFile"] },
        { "Remove-VolumeKey", ["Name", "Pool", "Path", "AllowLastKeyRemoval", "Force", "PassThru", "Passphrase", "KeyFile"] },
        { "Export-AtaoeDisk", ["Name", "Pool", "Path", "Shelf", "Slot", "Interface", "ReadOnly", "MacAllow", "Direct", "Sync", "Restart"] },
        { "Get-AtaoeExport", ["Shelf", "Interface", "State"] },
        { "Stop-AtaoeExport", ["Shelf", "Slot", "Interface", "PassThru"] },
        { "Find-AtaoeDisk", ["Interface", "Timeout"] },
        { "Add-AtaoeDiskToGroup", ["InputObject", "VolumeGroup", "LogicalVolume", "Grow", "FileSystem"] },
    };

    [Theory]
    [MemberData(nameof(Surfaces))]
    public void Each_cmdlet_has_exactly_its_parameters(string cmdlet, string[] parameters) =>
        assembly.Get(cmdlet).Parameters.Select(p => p.Name).Should().BeEquivalentTo(parameters);

    [Fact]
    public void The_catalogue_is_complete() =>
        assembly.All.Select(c => c.Name).Should().BeEquivalentTo(Surfaces.Select(row => (string)row[0]));

    [Fact]
    public void Verbs_are_approved_and_classes_are_sealed_and_named_after_the_cmdlet()
    {
        var approved = new[] { "VerbsCommon", "VerbsData", "VerbsLifecycle", "VerbsDiagnostic", "VerbsCommunications", "VerbsSecurity", "VerbsOther" }
            .SelectMany(name => assembly.SmaType(name).GetFields().Select(f => (string)f.GetRawConstantValue()!))
            .ToHashSet();
        approved.Should().Contain("Get").And.Contain("Mount");
        foreach (var cmdlet in assembly.All)
        {
            approved.Should().Contain(cmdlet.Verb, cmdlet.Name);
            cmdlet.Type.IsSealed.Should().BeTrue(cmdlet.Name);
            cmdlet.Type.Name.Should().Be(cmdlet.Verb + cmdlet.Noun + "Command");
        }
    }

    [Fact]
    public void Every_cmdlet_declares_output_types_that_exist()
    {
        foreach (var cmdlet in assembly.All)
        {
            cmdlet.OutputTypes.Should().NotBeEmpty(cmdlet.Name);
            // A Test-* cmdlet may also write a plain Boolean (-Quiet), as Test-Path does.
            cmdlet.OutputTypes.Should().OnlyContain(t => t.Assembly == assembly.Core || cmdlet.Verb == "Test" && t.FullName == "System.Boolean", cmdlet.Name);
        }
    }

    [Fact]
    public void State_changing_cmdlets_support_ShouldProcess_and_removal_is_high_impact()
    {
        foreach (var cmdlet in assembly.All.Where(c => !ReadOnlyVerbs.Contains(c.Verb)))
        {
            cmdlet.Named<bool>("SupportsShouldProcess").Should().BeTrue(cmdlet.Name);
            var impact = cmdlet.Named<int?>("ConfirmImpact");
            impact.Should().NotBeNull(cmdlet.Name);
            if (cmdlet.Verb == "Remove")
                impact.Should().Be(3, $"{cmdlet.Name} destroys data: ConfirmImpact.High");
        }
        foreach (var cmdlet in assembly.All.Where(c => ReadOnlyVerbs.Contains(c.Verb)))
            cmdlet.Named<bool>("SupportsShouldProcess").Should().BeFalse(cmdlet.Name);
    }

    [Theory]
    [InlineData("Get-SparseVolume")]
    [InlineData("Remove-SparseVolume")]
    [InlineData("Mount-SparseVolume")]
    [InlineData("Dismount-SparseVolume")]
    [InlineData("Resize-SparseVolume")]
    [InlineData("Copy-SparseVolume")]
    [InlineData("Optimize-SparseVolume")]
    [InlineData("Test-SparseVolume")]
    [InlineData("Backup-SparseVolume")]
    [InlineData("Compress-SparseVolume")]
    [InlineData("Protect-Volume")]
    [InlineData("Unprotect-Volume")]
    [InlineData("Unlock-Volume")]
    [InlineData("Lock-Volume")]
    [InlineData("Add-VolumeKey")]
    [InlineData("Remove-VolumeKey")]
    [InlineData("Export-AtaoeDisk")]
    public void Volume_cmdlets_bind_Path_by_property_name_from_what_upstream_cmdlets_emit(string cmdlet)
    {
        var path = assembly.Get(cmdlet).Parameters.Single(p => p.Name == "Path");
        path.Sets.Should().OnlyContain(s => s.FromPipelineByPropertyName);
        path.Aliases.Should().Contain(["FullName", "PSPath"]);
        foreach (var upstream in new[] { "New-SparseVolume", "Get-SparseVolume", "Mount-SparseVolume", "Get-StoragePool", "Resize-SparseVolume" })
            foreach (var type in assembly.Get(upstream).OutputTypes)
                type.GetProperty("Path").Should().NotBeNull($"{upstream} emits {type.Name}, which must carry Path for {cmdlet}");
    }

    [Theory]
    [InlineData("New-VolumeSnapshot", false)]
    [InlineData("Get-VolumeSnapshot", false)]
    [InlineData("Restore-VolumeSnapshot", true)]
    [InlineData("Remove-VolumeSnapshot", true)]
    public void Snapshot_cmdlets_take_volumes_and_snapshots_from_the_pipeline(string cmdlet, bool namesSnapshotFromPipeline)
    {
        var parameters = assembly.Get(cmdlet).Parameters;
        var volumePath = parameters.Single(p => p.Name == "VolumePath");
        volumePath.Sets.Should().OnlyContain(s => s.FromPipelineByPropertyName);
        volumePath.Aliases.Should().Contain(["Path", "FullName", "PSPath"]);
        var byProperty = parameters.Where(p => p.Sets.Any(s => s.FromPipelineByPropertyName)).Select(p => p.Name).ToList();
        byProperty.Should().BeEquivalentTo(namesSnapshotFromPipeline ? ["VolumePath", "Name"] : ["VolumePath"],
            "only a cmdlet that acts on an existing snapshot may take a piped object's Name as the snapshot's name");

        var snapshot = assembly.Get("Get-VolumeSnapshot").OutputTypes.Single();
        snapshot.GetProperty("VolumePath").Should().NotBeNull();
        snapshot.GetProperty("Name").Should().NotBeNull();
        snapshot.GetProperty("Path").Should().BeNull("a snapshot's Path would compete with VolumePath for the -VolumePath parameter");
        assembly.Get("Get-SparseVolume").OutputTypes.Single().GetProperty("Path").Should().NotBeNull();
    }

    [Theory]
    [InlineData("Restore-SparseVolume")]
    [InlineData("Remove-VolumeBackup")]
    public void Backup_sets_pipe_in_by_BackupPath_and_carry_no_Path_a_volume_cmdlet_could_take(string cmdlet)
    {
        var parameters = assembly.Get(cmdlet).Parameters;
        parameters.Where(p => p.Sets.Any(s => s.FromPipelineByPropertyName)).Select(p => p.Name).Should().Equal("Backup");
        parameters.Single(p => p.Name == "Backup").Aliases.Should().Contain("BackupPath");
        var backup = assembly.Get("Get-VolumeBackup").OutputTypes.Single();
        backup.Should().BeSameAs(assembly.Get("Backup-SparseVolume").OutputTypes.Single());
        backup.GetProperty("BackupPath").Should().NotBeNull();
        backup.GetProperty("Path").Should().BeNull("a piped backup set must not bind as a volume's -Path");
        assembly.Get("Expand-SparseVolume").Parameters.Single(p => p.Name == "Path").Sets.Should().OnlyContain(s => s.FromPipelineByPropertyName);
        assembly.Get("Compress-SparseVolume").OutputTypes.Single().GetProperty("Path").Should().NotBeNull("archives pipe into Expand-SparseVolume");
    }

    [Fact]
    public void Exports_pipe_into_Stop_by_address_and_targets_into_the_group_by_value()
    {
        var export = assembly.Get("Get-AtaoeExport").OutputTypes.Single();
        export.Should().BeSameAs(assembly.Get("Export-AtaoeDisk").OutputTypes.Single());
        var stop = assembly.Get("Stop-AtaoeExport").Parameters;
        stop.Where(p => p.Sets.Any(s => s.FromPipelineByPropertyName)).Select(p => p.Name).Should().BeEquivalentTo(["Shelf", "Slot", "Interface"]);
        foreach (var property in new[] { "Shelf", "Slot", "Interface" })
            export.GetProperty(property).Should().NotBeNull($"Stop-AtaoeExport binds {property} from the export");
        export.GetProperty("Path").Should().BeNull("a piped export must not bind as a volume's -Path");
        export.GetProperty("VolumePath").Should().NotBeNull();

        var target = assembly.Get("Find-AtaoeDisk").OutputTypes.Single();
        var input = assembly.Get("Add-AtaoeDiskToGroup").Parameters.Single(p => p.Sets.Any(s => s.FromPipeline));
        input.Type.GetElementType()!.FullName.Should().Be("System.Management.Automation.PSObject", "deserialized targets from a remote session must bind too");
        target.GetProperty("Path").Should().BeNull("a discovered target must not bind as a volume's -Path");
        foreach (var name in new[] { "Export-AtaoeDisk", "Get-AtaoeExport", "Stop-AtaoeExport", "Find-AtaoeDisk" })
            assembly.Get(name).Parameters.Single(p => p.Name == "Interface").Has("ArgumentCompleterAttribute").Should().BeTrue(name);
        assembly.Get("Export-AtaoeDisk").Parameters.Single(p => p.Name == "Slot").Type.FullName.Should().Be("System.String", "-Slot takes a number or Auto");
    }

    [Fact]
    public void Only_pools_pipe_into_Unregister_so_a_piped_volume_cannot_name_a_pool()
    {
        var unregister = assembly.Get("Unregister-StoragePool").Parameters;
        unregister.Should().NotContain(p => p.Sets.Any(s => s.FromPipelineByPropertyName));
        var input = unregister.Single(p => p.Sets.Any(s => s.FromPipeline));
        input.Type.FullName.Should().Be("System.Management.Automation.PSObject", "deserialized pools from a remote session must bind too");
        assembly.Get("Get-StoragePool").Parameters.Should().NotContain(p => p.Sets.Any(s => s.FromPipelineByPropertyName));
    }

    [Fact]
    public void Only_Path_binds_by_property_name_in_volume_action_cmdlets_so_a_piped_volume_picks_one_set()
    {
        foreach (var cmdlet in new[] { "Remove-SparseVolume", "Mount-SparseVolume", "Dismount-SparseVolume", "Get-SparseVolume", "Resize-SparseVolume", "Copy-SparseVolume", "Optimize-SparseVolume", "Test-SparseVolume", "Backup-SparseVolume", "Compress-SparseVolume",
                     "Protect-Volume", "Unprotect-Volume", "Unlock-Volume", "Lock-Volume", "Add-VolumeKey", "Remove-VolumeKey", "Export-AtaoeDisk" })
        {
            var byProperty = assembly.Get(cmdlet).Parameters.Where(p => p.Sets.Any(s => s.FromPipelineByPropertyName)).Select(p => p.Name);
            byProperty.Should().Equal(["Path"], cmdlet);
        }
    }

    [Fact]
    public void Parameter_sets_can_be_resolved()
    {
        foreach (var cmdlet in assembly.All)
        {
            var sets = cmdlet.ParameterSets;
            if (sets.Count > 1)
                sets.Should().Contain(cmdlet.Named<string>("DefaultParameterSetName")!, $"{cmdlet.Name} needs a default among its sets");
            foreach (var set in sets.DefaultIfEmpty(ParameterInfo.AllSets))
            {
                var members = cmdlet.Parameters.Where(p => p.InSet(set)).Select(p => (p, binding: p.Sets.First(s => s.Set == set || s.Set == ParameterInfo.AllSets))).ToList();
                var positions = members.Where(m => m.binding.Position >= 0).Select(m => m.binding.Position).ToList();
                positions.Should().OnlyHaveUniqueItems($"{cmdlet.Name} set {set} positions");
                members.Count(m => m.binding.FromPipeline).Should().BeLessThanOrEqualTo(1, $"{cmdlet.Name} set {set}: one by-value pipeline parameter");
                if (sets.Count > 1)
                    (members.Any(m => m.p.Sets.All(s => s.Set == set)) || MandatoryTogetherOnlyIn(cmdlet, set))
                        .Should().BeTrue($"{cmdlet.Name} set {set} needs a parameter of its own, or mandatory parameters no other set has together");
            }
        }
    }

    /// <summary>Crossed sets (Resize-SparseVolume's SizeByPath: -Size and -Path) are told apart by their mandatory parameters together.</summary>
    private static bool MandatoryTogetherOnlyIn(CmdletInfo cmdlet, string set)
    {
        var mandatory = cmdlet.Parameters.Where(p => p.Sets.Any(s => s.Set == set && s.Mandatory)).ToList();
        return mandatory.Count > 0 && cmdlet.ParameterSets.Where(other => other != set).All(other => !mandatory.All(p => p.InSet(other)));
    }

    [Fact]
    public void Piped_input_alone_can_satisfy_the_default_parameter_set()
    {
        // PowerShell starts from the default set when only pipeline input is given; a mandatory parameter there that no
        // pipeline object can fill would make it prompt instead of binding the piped object.
        foreach (var cmdlet in assembly.All.Where(c => c.Parameters.Any(p => p.Sets.Any(s => s.FromPipeline || s.FromPipelineByPropertyName))))
        {
            // Parameters mandatory in every set (Mount-SparseVolume -MountPoint) come from the command line and choose no set.
            IEnumerable<ParameterSetBinding> TypedOnly(string set) => cmdlet.Parameters.Where(p => p.Sets.Any(s => s.Set == set && s.Mandatory))
                .Where(p => !cmdlet.ParameterSets.All(other => p.Sets.Any(s => (s.Set == other || s.Set == ParameterInfo.AllSets) && s.Mandatory)))
                .Select(p => p.Sets.First(s => s.Set == set)).Where(b => !b.FromPipeline && !b.FromPipelineByPropertyName);
            // Where every set needs something typed (Resize-SparseVolume: -Size, -Delta or -ToMinimumSize), piped input
            // alone runs no set, and the typed parameter chooses among them.
            if (cmdlet.ParameterSets.Count > 1 && cmdlet.ParameterSets.All(s => TypedOnly(s).Any()))
                continue;
            TypedOnly(cmdlet.Named<string>("DefaultParameterSetName") ?? ParameterInfo.AllSets).Should().BeEmpty(cmdlet.Name);
        }
    }

    [Fact]
    public void Secrets_are_taken_as_SecureString_or_a_file_name_never_as_plain_text()
    {
        foreach (var cmdlet in assembly.All)
            foreach (var parameter in cmdlet.Parameters.Where(p => p.Name.Contains("Passphrase", StringComparison.Ordinal) || p.Name.Contains("Password", StringComparison.Ordinal)))
                parameter.Type.FullName.Should().Be("System.Security.SecureString", $"{cmdlet.Name} -{parameter.Name}");
        assembly.Get("Protect-Volume").Parameters.Single(p => p.Name == "KeyFile").Type.FullName.Should().Be("System.String");
    }

    [Fact]
    public void Sizes_take_the_transformation_that_accepts_numbers_and_text()
    {
        var size = assembly.Get("New-SparseVolume").Parameters.Single(p => p.Name == "Size");
        size.Type.FullName.Should().Be("SparseStorage.Core.ByteSize");
        size.Has("ByteSizeTransformationAttribute").Should().BeTrue();
    }

    [Fact]
    public void Core_has_no_PowerShell_reference() =>
        assembly.Core.GetReferencedAssemblies().Select(a => a.Name).Should().NotContain("System.Management.Automation");

    [Fact]
    public void Format_views_name_existing_types_properties_and_methods()
    {
        var document = XDocument.Load(Path.Combine(CmdletAssembly.RepositoryRoot, "module", "SparseStorage.format.ps1xml"));
        var extended = ExtendedMembers();
        foreach (var view in document.Descendants("View"))
        {
            var typeNames = view.Descendants("TypeName").Select(t => t.Value).ToList();
            typeNames.Should().Contain(n => n.StartsWith("Deserialized."), "remoting returns deserialized objects that need the same view");
            foreach (var typeName in typeNames)
            {
                var type = assembly.Core.GetType(typeName.Replace("Deserialized.", ""));
                type.Should().NotBeNull(typeName);
                var used = view.Descendants("PropertyName").Select(p => p.Value)
                    .Concat(view.Descendants("ScriptBlock").SelectMany(s => ScriptBlockMembers.Read(s.Value, "_")));
                foreach (var property in used.Distinct())
                    (type!.GetProperty(property) is not null || extended.Contains((typeName, property))).Should()
                        .BeTrue($"{typeName}.{property} is shown by view {view.Element("Name")!.Value}");
            }
            foreach (var (type, method) in view.Descendants("ScriptBlock").SelectMany(s => ScriptBlockMembers.StaticCalls(s.Value)))
                assembly.Core.GetType(type)?.GetMethod(method).Should().NotBeNull($"[{type}]::{method}");
        }
    }

    [Fact]
    public void Table_views_run_no_script_block_per_row()
    {
        var document = XDocument.Load(Path.Combine(CmdletAssembly.RepositoryRoot, "module", "SparseStorage.format.ps1xml"));

        document.Descendants("TableColumnItem").Where(c => c.Element("ScriptBlock") is not null).Select(c => c.ToString())
            .Should().BeEmpty("a table column shows a property, typed or hidden (SparseStorage.types.ps1xml), not a script's result");
    }

    [Fact]
    public void Type_extensions_refer_to_existing_members()
    {
        var document = XDocument.Load(Path.Combine(CmdletAssembly.RepositoryRoot, "module", "SparseStorage.types.ps1xml"));
        foreach (var type in document.Descendants("Type"))
        {
            var name = type.Element("Name")!.Value;
            var clr = assembly.Core.GetType(name.Replace("Deserialized.", ""));
            clr.Should().NotBeNull(name);
            foreach (var alias in type.Descendants("ReferencedMemberName"))
                clr!.GetProperty(alias.Value).Should().NotBeNull(alias.Value);
            foreach (var script in type.Descendants("GetScriptBlock"))
                foreach (var member in ScriptBlockMembers.Read(script.Value, "this"))
                    clr!.GetProperty(member).Should().NotBeNull($"$this.{member}");
            foreach (var code in type.Descendants("GetCodeReference"))
            {
                var method = assembly.Cmdlets.GetType(code.Element("TypeName")!.Value)?.GetMethod(code.Element("MethodName")!.Value);
                method.Should().NotBeNull($"{name}: {code.Element("TypeName")!.Value}.{code.Element("MethodName")!.Value}");
                method!.IsStatic.Should().BeTrue();
                method.GetParameters().Select(p => p.ParameterType.FullName).Should().Equal("System.Management.Automation.PSObject");
            }
        }
    }

    [Fact]
    public void Display_members_are_hidden_and_given_to_deserialized_objects_too()
    {
        var document = XDocument.Load(Path.Combine(CmdletAssembly.RepositoryRoot, "module", "SparseStorage.types.ps1xml"));
        var code = document.Descendants("CodeProperty").ToList();

        code.Should().NotBeEmpty().And.OnlyContain(c => (string?)c.Attribute("IsHidden") == "true",
            "a display member stays out of ConvertTo-Json, Select-Object * and Format-List *");
        var extended = ExtendedMembers();
        foreach (var (typeName, member) in extended.Where(m => !m.Type.StartsWith("Deserialized.", StringComparison.Ordinal)))
            extended.Should().Contain(("Deserialized." + typeName, member), $"a deserialized {typeName} shows {member} as a live one does");
    }

    /// <summary>(type name, member) of every CodeProperty the types file adds.</summary>
    private static HashSet<(string Type, string Member)> ExtendedMembers() =>
        XDocument.Load(Path.Combine(CmdletAssembly.RepositoryRoot, "module", "SparseStorage.types.ps1xml")).Descendants("Type")
            .SelectMany(t => t.Descendants("CodeProperty").Select(c => (t.Element("Name")!.Value, c.Element("Name")!.Value)))
            .ToHashSet();

    [Fact]
    public void Every_cmdlet_has_a_docs_page_covering_exactly_its_parameters_and_two_examples()
    {
        foreach (var cmdlet in assembly.All)
        {
            var page = Path.Combine(CmdletAssembly.RepositoryRoot, "docs", "en-US", cmdlet.Name + ".md");
            File.Exists(page).Should().BeTrue($"{cmdlet.Name} needs {page}");
            var text = File.ReadAllText(page);
            var documented = Regex.Matches(text, @"^### -(\w+)\s*$", RegexOptions.Multiline).Select(m => m.Groups[1].Value)
                .Except(["WhatIf", "Confirm"]).ToList();
            documented.Should().BeEquivalentTo(cmdlet.Parameters.Select(p => p.Name), cmdlet.Name);
            Regex.Matches(text, @"^### Example \d+", RegexOptions.Multiline).Count.Should().BeGreaterThanOrEqualTo(2, cmdlet.Name);
            text.Should().Contain("## SYNOPSIS").And.Contain("## DESCRIPTION").And.Contain("## OUTPUTS");
            if (cmdlet.Named<bool>("SupportsShouldProcess"))
                text.Should().Contain("### -WhatIf").And.Contain("### -Confirm");
        }
    }

    [Fact]
    public void Cmdlets_stay_thin()
    {
        var commands = Directory.GetFiles(Path.Combine(CmdletAssembly.RepositoryRoot, "src", "SparseStorage.PowerShell", "Commands"), "*.cs");
        commands.Should().HaveCount(assembly.All.Count, "one cmdlet per file");
        foreach (var file in commands)
            File.ReadAllLines(file).Length.Should().BeLessThan(120, $"{Path.GetFileName(file)} should map parameters to one Core call");
    }

    public void Dispose() => assembly.Dispose();
}

public sealed class RealHelpTests : IDisposable
{
    private readonly CmdletAssembly assembly = new();

    [Fact]
    public void Every_cmdlet_page_converts_to_maml_with_synopsis_parameters_and_examples()
    {
        var output = Path.Combine(Path.GetTempPath(), $"help-{Guid.NewGuid():N}.xml");
        try
        {
            var pages = SparseStorage.Packager.MamlWriter.ConvertDirectory(Path.Combine(CmdletAssembly.RepositoryRoot, "docs", "en-US"), output);
            pages.Should().HaveCount(assembly.All.Count);
            var commands = XDocument.Load(output).Descendants(SparseStorage.Packager.MamlWriter.Command + "command").ToList();
            foreach (var cmdlet in assembly.All)
            {
                var command = commands.Single(c => c.Descendants(SparseStorage.Packager.MamlWriter.Command + "name").First().Value == cmdlet.Name);
                command.Descendants(SparseStorage.Packager.MamlWriter.Maml + "para").First().Value.Should().NotBeNullOrWhiteSpace();
                command.Descendants(SparseStorage.Packager.MamlWriter.Command + "example").Should().HaveCountGreaterThanOrEqualTo(2, cmdlet.Name);
                var documented = command.Element(SparseStorage.Packager.MamlWriter.Command + "parameters")!
                    .Elements().Select(p => p.Element(SparseStorage.Packager.MamlWriter.Maml + "name")!.Value);
                foreach (var parameter in cmdlet.Parameters)
                    documented.Should().Contain(parameter.Name, cmdlet.Name);
            }
        }
        finally
        {
            File.Delete(output);
        }
    }

    public void Dispose() => assembly.Dispose();

}
