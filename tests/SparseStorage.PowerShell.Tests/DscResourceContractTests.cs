using System.Management.Automation.Language;
using System.Reflection;
using SparseStorage.Packager;

namespace SparseStorage.PowerShell.Tests;

/// <summary>
/// The class-based DSC resources, read by PowerShell's parser from the SparseStorageDsc script module: what its manifest
/// exports, what PSDesiredStateConfiguration needs of each class, and that every Core type and cmdlet parameter they
/// use exists.
/// </summary>
public sealed class DscResourceContractTests : IDisposable
{
    private static readonly string Root = CmdletAssembly.RepositoryRoot;
    private static readonly string ModuleFolder = Path.Combine(Root, "module", ModuleAssembler.DscModuleName);
    private static readonly ModuleManifest Manifest = ModuleManifest.Load(Path.Combine(ModuleFolder, ModuleAssembler.DscModuleName + ".psd1"));
    private static readonly string RootModulePath = Path.Combine(ModuleFolder, Manifest.Values("RootModule").Single());
    private static readonly string Script = File.ReadAllText(RootModulePath);
    private static readonly ScriptBlockAst Ast = Parser.ParseInput(Script, RootModulePath, out _, out _);
    private static readonly IReadOnlyList<DscClassDeclaration> Resources = DscClassDeclaration.Parse(Ast);

    private readonly CmdletAssembly assembly = new();

    public void Dispose() => assembly.Dispose();

    private static DscClassDeclaration Resource(string name) => Resources.Single(r => r.Name == name);

    [Fact]
    public void The_manifest_exports_exactly_the_resources_its_root_module_declares()
    {
        Manifest.Values("DscResourcesToExport").Should().BeEquivalentTo("SparseVolume", "SparseStoragePool");
        Resources.Select(r => r.Name).Should().BeEquivalentTo(Manifest.Values("DscResourcesToExport"));
    }

    [Fact]
    public void SparseStorage_itself_exports_no_resource_and_has_no_script_module()
    {
        var sparseStorage = ModuleManifest.Load(Path.Combine(Root, ModuleAssembler.ModuleName + ".psd1"));

        sparseStorage.Values("DscResourcesToExport").Should().BeEmpty();
        sparseStorage.Values("RootModule").Should().Equal(ModuleAssembler.CmdletAssembly + ".dll");
        Directory.EnumerateFiles(Path.Combine(Root, "module"), "*.psm1", SearchOption.AllDirectories).Should().Equal(RootModulePath);
    }

    [Fact]
    public void No_other_script_declares_a_resource_since_only_the_root_module_is_searched()
    {
        var others = Directory.EnumerateFiles(Path.Combine(Root, "module"), "*.ps*1", SearchOption.AllDirectories)
            .Where(f => f != RootModulePath && File.ReadAllText(f).Contains("[DscResource("));

        RootModulePath.Should().EndWith(".psm1");
        others.Should().BeEmpty();
    }

    [Theory]
    [InlineData("SparseVolume")]
    [InlineData("SparseStoragePool")]
    public void Each_resource_has_Get_returning_itself_Test_returning_bool_and_Set_returning_void(string name)
    {
        Resource(name).Methods.Should().Equal(new Dictionary<string, string> { ["Get"] = name, ["Test"] = "bool", ["Set"] = "void" });
    }

    [Fact]
    public void SparseVolume_is_keyed_by_pool_and_name_and_has_the_configurable_properties_of_the_issue()
    {
        var volume = Resource("SparseVolume");

        volume.Keys.Should().BeEquivalentTo("Name", "Pool");
        volume.Configurable.Should().BeEquivalentTo(
            "Ensure", "Name", "Pool", "Size", "Format", "FileSystem", "Label", "MountPoint", "Encrypted", "KeyFile", "AllowShrink");
    }

    [Fact]
    public void SparseStoragePool_is_keyed_by_name_and_configures_ensure_and_path()
    {
        var pool = Resource("SparseStoragePool");

        pool.Keys.Should().Equal("Name");
        pool.Configurable.Should().BeEquivalentTo("Ensure", "Name", "Path");
    }

    [Fact]
    public void Property_types_are_ones_DSC_maps_and_Ensure_is_an_enum_of_Present_and_Absent()
    {
        Resources.SelectMany(r => r.Properties).Select(p => p.Type).Distinct()
            .Should().OnlyContain(type => new[] { "string", "bool", "long", "int", "Ensure" }.Contains(type));
        Resources.SelectMany(r => r.Properties).Select(p => p.Arguments).Distinct()
            .Should().OnlyContain(arguments => new[] { "", "Key", "Mandatory", "NotConfigurable" }.Contains(arguments));
        Ast.FindAll(n => n is TypeDefinitionAst { IsEnum: true, Name: "Ensure" }, true).Cast<TypeDefinitionAst>().Single()
            .Members.Select(m => m.Name).Should().Equal("Present", "Absent");
    }

    [Fact]
    public void The_script_names_no_module_type_as_a_literal_since_classes_are_resolved_when_the_file_is_parsed()
    {
        Ast.FindAll(n => n is TypeExpressionAst or TypeConstraintAst or AttributeAst, true)
            .Select(n => n switch { TypeExpressionAst t => t.TypeName, TypeConstraintAst c => c.TypeName, _ => ((AttributeAst)n).TypeName })
            .Where(t => t.FullName.StartsWith("SparseStorage.", StringComparison.OrdinalIgnoreCase)).Select(t => t.FullName)
            .Should().BeEmpty();
    }

    [Fact]
    public void The_script_parses_without_errors()
    {
        Parser.ParseInput(Script, RootModulePath, out _, out var errors);
        errors.Select(e => $"{e.Extent.StartLineNumber}: {e.Message}").Should().BeEmpty();
    }

    [Fact]
    public void Every_Core_type_and_static_method_the_script_calls_exists()
    {
        var names = Ast.FindAll(n => n is StringConstantExpressionAst, true).Cast<StringConstantExpressionAst>().Select(s => s.Value)
            .Where(v => v.StartsWith("SparseStorage.Core.Configuration.", StringComparison.Ordinal)).Distinct().ToList();

        names.Should().Contain(["SparseStorage.Core.Configuration.VolumePlanner", "SparseStorage.Core.Configuration.PoolPlanner"]);
        foreach (var name in names)
            assembly.Core.GetType(name).Should().NotBeNull($"the script resolves '{name}' by name");
        StaticMethod("VolumeDesiredState", "FromProperties").Should().NotBeNull();
        StaticMethod("PoolDesiredState", "FromProperties").Should().NotBeNull();
        StaticMethod("VolumePlanner", "Plan").Should().NotBeNull();
        StaticMethod("PoolPlanner", "Plan").Should().NotBeNull();
        StaticMethod("ObservedVolume", "From").Should().NotBeNull();
    }

    [Theory]
    [InlineData("SparseVolume", "VolumePlan", "VolumeStep")]
    [InlineData("SparseStoragePool", "PoolPlan", "PoolStep")]
    public void Every_member_a_resource_reads_of_its_plan_and_steps_exists_and_it_walks_the_typed_changes(string resource, string planType, string stepType)
    {
        var declaration = Ast.FindAll(n => n is TypeDefinitionAst { Name: var name } && name == resource, true).Cast<TypeDefinitionAst>().Single();
        var plan = assembly.Core.GetType($"SparseStorage.Core.Configuration.{planType}", throwOnError: true)!;
        var step = assembly.Core.GetType($"SparseStorage.Core.Configuration.{stepType}", throwOnError: true)!;

        var planMembers = MembersReadOf(declaration, "plan");
        var stepMembers = MembersReadOf(declaration, "step");
        planMembers.Should().Contain(["Differences", "Conflicts", "IsInDesiredState", "RequireNoConflicts", "Target"]);
        stepMembers.Should().Contain(["Kind", "Description"]);
        planMembers.Should().OnlyContain(m => plan.GetProperty(m) != null || plan.GetMethod(m) != null, $"{planType} has every member {resource} reads");
        stepMembers.Should().OnlyContain(m => step.GetProperty(m) != null, $"{stepType} has every member {resource} reads");
        var walked = declaration.FindAll(n => n is ForEachStatementAst { Variable.VariablePath.UserPath: "step" }, true).Cast<ForEachStatementAst>()
            .Select(f => ((MemberExpressionAst)f.Condition.Find(n => n is MemberExpressionAst, true)!).Member).Cast<StringConstantExpressionAst>().Single().Value;
        plan.GetProperty(walked)!.PropertyType.GetGenericArguments().Single().Should().BeSameAs(step, "Set carries out the typed changes, not the plan's display steps");
    }

    private static IReadOnlyList<string> MembersReadOf(Ast scope, string variable) =>
        scope.FindAll(n => n is MemberExpressionAst { Expression: VariableExpressionAst v } && v.VariablePath.UserPath == variable, true)
            .Cast<MemberExpressionAst>().Select(m => ((StringConstantExpressionAst)m.Member).Value).Distinct().ToList();

    public static TheoryData<string, string[]> CmdletParameters => new()
    {
        { "Get-SparseVolume", ["Pool"] },
        { "New-SparseVolume", ["Name", "Pool", "Size", "Format", "FileSystem", "Label"] },
        { "Resize-SparseVolume", ["Name", "Pool", "Size", "Force"] },
        { "Mount-SparseVolume", ["Name", "Pool", "MountPoint", "KeyFile"] },
        { "Dismount-SparseVolume", ["Name", "Pool"] },
        { "Protect-Volume", ["Name", "Pool", "KeyFile"] },
        { "Remove-SparseVolume", ["Name", "Pool", "Force"] },
        { "Get-StoragePool", [] },
        { "Register-StoragePool", ["Name", "Path"] },
        { "Unregister-StoragePool", ["Name"] },
    };

    [Theory]
    [MemberData(nameof(CmdletParameters))]
    public void Every_cmdlet_the_resources_call_has_the_parameters_they_pass(string cmdlet, string[] parameters)
    {
        Ast.FindAll(n => n is CommandAst, true).Cast<CommandAst>().Select(c => c.GetCommandName()).Should().Contain(cmdlet);
        var type = assembly.Get(cmdlet).Type;
        foreach (var parameter in parameters)
            (type.GetProperty(parameter)?.GetCustomAttributesData() ?? []).Should()
                .Contain(a => a.AttributeType.Name == "ParameterAttribute", $"{cmdlet} is called with -{parameter}");
    }

    [Fact]
    public void Every_state_changing_call_is_unattended_and_stops_on_error()
    {
        var calls = Ast.FindAll(n => n is CommandAst c && c.GetCommandName() is "Register-StoragePool" or "Unregister-StoragePool", true)
            .Select(c => c.Extent.Text).ToList();

        calls.Should().HaveCountGreaterThanOrEqualTo(2);
        calls.Should().OnlyContain(call => call.Contains("-Confirm:$false") && call.Contains("-ErrorAction Stop"));
        Script.Should().Contain("Confirm = $false").And.Contain("ErrorAction = 'Stop'");
    }

    private MethodInfo? StaticMethod(string type, string method) =>
        assembly.Core.GetType("SparseStorage.Core.Configuration." + type)?.GetMethod(method, BindingFlags.Public | BindingFlags.Static);
}
