using System.Reflection;

namespace SparseStorage.PowerShell.Tests;

/// <summary>
/// The compiled cmdlet assembly loaded for inspection only (MetadataLoadContext): System.Management.Automation here
/// is PowerShellStandard's reference assembly, which cannot be loaded to run.
/// </summary>
public sealed class CmdletAssembly : IDisposable
{
    private readonly MetadataLoadContext context;

    public CmdletAssembly()
    {
        var output = Path.Combine(RepositoryRoot, "src", "SparseStorage.PowerShell", "bin", Configuration, "net8.0");
        var paths = Directory.GetFiles(RuntimeDirectory, "*.dll")
            .Concat([Metadata("SmaReferencePath"), Path.Combine(output, "SparseStorage.Core.dll"), Path.Combine(output, "SparseStorage.PowerShell.dll")]);
        context = new MetadataLoadContext(new PathAssemblyResolver(paths));
        Cmdlets = context.LoadFromAssemblyPath(Path.Combine(output, "SparseStorage.PowerShell.dll"));
        Core = context.LoadFromAssemblyPath(Path.Combine(output, "SparseStorage.Core.dll"));
        Sma = context.LoadFromAssemblyName("System.Management.Automation");
    }

    public static string RepositoryRoot => Path.GetFullPath(Metadata("RepositoryRoot"));

    /// <summary>The configuration this test project was built in, and so the cmdlet build it inspects.</summary>
    public static string Configuration => Metadata("Configuration");

    public Assembly Cmdlets { get; }
    public Assembly Core { get; }
    public Assembly Sma { get; }

    public IReadOnlyList<CmdletInfo> All =>
        Cmdlets.GetTypes().Select(CmdletInfo.From).OfType<CmdletInfo>().OrderBy(c => c.Name).ToList();

    public CmdletInfo Get(string name) => All.Single(c => c.Name == name);

    public Type SmaType(string name) => Sma.GetType("System.Management.Automation." + name, throwOnError: true)!;

    public void Dispose() => context.Dispose();

    private static string RuntimeDirectory => Path.GetDirectoryName(typeof(object).Assembly.Location)!;

    private static string Metadata(string key) =>
        typeof(CmdletAssembly).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}

/// <summary>A cmdlet as PowerShell would see it from its attributes.</summary>
public sealed record CmdletInfo(Type Type, string Verb, string Noun, CustomAttributeData Attribute)
{
    public string Name => $"{Verb}-{Noun}";

    public static CmdletInfo? From(Type type)
    {
        var attribute = type.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.Name == "CmdletAttribute");
        return attribute is null ? null
            : new CmdletInfo(type, (string)attribute.ConstructorArguments[0].Value!, (string)attribute.ConstructorArguments[1].Value!, attribute);
    }

    public T? Named<T>(string argument) =>
        Attribute.NamedArguments.Where(a => a.MemberName == argument).Select(a => (T?)a.TypedValue.Value).FirstOrDefault();

    public IReadOnlyList<Type> OutputTypes =>
        Type.GetCustomAttributesData().Where(a => a.AttributeType.Name == "OutputTypeAttribute")
            .SelectMany(a => a.ConstructorArguments)
            .SelectMany(arg => arg.Value is IEnumerable<CustomAttributeTypedArgument> many ? many.Select(m => m.Value) : [arg.Value])
            .OfType<Type>().ToList();

    public IReadOnlyList<ParameterInfo> Parameters =>
        Type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .SelectMany(ParameterInfo.From).GroupBy(p => p.Name).Select(g => g.First()).ToList();

    public IReadOnlyList<string> ParameterSets =>
        Parameters.SelectMany(p => p.Sets).Select(s => s.Set).Where(s => s != ParameterInfo.AllSets).Distinct().ToList();
}

public sealed record ParameterSetBinding(string Set, bool Mandatory, int Position, bool FromPipeline, bool FromPipelineByPropertyName);

public sealed record ParameterInfo(string Name, Type Type, IReadOnlyList<string> Aliases, IReadOnlyList<ParameterSetBinding> Sets, PropertyInfo Property)
{
    public const string AllSets = "__AllParameterSets";

    public static IEnumerable<ParameterInfo> From(PropertyInfo property)
    {
        var attributes = property.GetCustomAttributesData();
        var parameters = attributes.Where(a => a.AttributeType.Name == "ParameterAttribute").ToList();
        if (parameters.Count == 0)
            yield break;
        var aliases = attributes.Where(a => a.AttributeType.Name == "AliasAttribute")
            .SelectMany(a => ((IEnumerable<CustomAttributeTypedArgument>)a.ConstructorArguments[0].Value!).Select(v => (string)v.Value!)).ToList();
        var sets = parameters.Select(p => new ParameterSetBinding(
            Arg<string>(p, "ParameterSetName") ?? AllSets,
            Arg<bool>(p, "Mandatory"),
            Arg<int?>(p, "Position") ?? int.MinValue,
            Arg<bool>(p, "ValueFromPipeline"),
            Arg<bool>(p, "ValueFromPipelineByPropertyName"))).ToList();
        yield return new ParameterInfo(property.Name, property.PropertyType, aliases, sets, property);
    }

    public bool Has(string attributeName) => Property.GetCustomAttributesData().Any(a => a.AttributeType.Name == attributeName);

    public bool InSet(string set) => Sets.Any(s => s.Set == set || s.Set == AllSets);

    private static T? Arg<T>(CustomAttributeData attribute, string name) =>
        attribute.NamedArguments.Where(a => a.MemberName == name).Select(a => (T?)a.TypedValue.Value).FirstOrDefault();
}
