using System.Reflection;

namespace SparseStorage.PowerShell.Tests;

/// <summary>
/// Every output type converts cleanly with <c>ConvertTo-Json -Depth 3</c>. The walk follows what PowerShell's
/// JsonObject.ProcessValue does with a .NET object: strings, numbers, booleans, dates and GUIDs are written as they are;
/// enums are written as numbers unless their underlying type is long or ulong, which are written by name; dictionaries
/// (string keys only, or the command fails) and sequences are walked; any other object becomes a JSON object of its public
/// fields and readable properties while its depth is at most -Depth, and a string from ToString() beyond it.
/// </summary>
public sealed class JsonShapeTests : IDisposable
{
    private const int Depth = 3;

    private static readonly HashSet<string> Scalars =
    [
        "System.String", "System.Char", "System.Boolean", "System.DateTime", "System.DateTimeOffset", "System.Guid", "System.Uri",
        "System.Double", "System.Single", "System.Decimal", "System.Numerics.BigInteger",
        "System.Byte", "System.SByte", "System.Int16", "System.UInt16", "System.Int32", "System.UInt32", "System.Int64", "System.UInt64",
    ];

    private readonly CmdletAssembly assembly = new();

    public static TheoryData<string> OutputTypes() => new(OutputTypeNames());

    private static List<string> OutputTypeNames()
    {
        using var assembly = new CmdletAssembly();
        return assembly.All.SelectMany(c => c.OutputTypes).Where(t => t.Assembly == assembly.Core).Select(t => t.FullName!).Distinct().Order().ToList();
    }

    [Theory]
    [MemberData(nameof(OutputTypes))]
    public void Output_type_converts_to_json_at_depth_3_with_numbers_names_and_no_cycles(string typeName)
    {
        var problems = new List<string>();
        Walk(assembly.Core.GetType(typeName, throwOnError: true)!, 0, typeName, [], problems);
        problems.Should().BeEmpty();
    }

    [Fact]
    public void The_walk_catches_what_ConvertTo_Json_would_get_wrong()
    {
        var problems = new List<string>();
        Walk(assembly.Core.GetType("SparseStorage.ByteSize", throwOnError: true)!, 4, "ByteSize", [], problems);
        var timeSpan = assembly.Core.GetType("SparseStorage.SparseVolume")!.GetProperty("SizeBytes")!.PropertyType.Assembly.GetType("System.TimeSpan")!;
        Walk(timeSpan, 1, "TimeSpan", [], problems);
        problems.Should().HaveCount(2, "an object below depth 3 is written as a string, and TimeSpan is not a plain value");
    }

    [Fact]
    public void Every_output_type_is_covered_by_the_walk() =>
        OutputTypeNames().Should().Contain(["SparseStorage.SparseVolume", "SparseStorage.VolumeBackup", "SparseStorage.AtaoeExport", "SparseStorage.StorageHost"]);

    [Fact]
    public void The_json_document_has_a_section_for_every_output_type()
    {
        var text = File.ReadAllText(Path.Combine(CmdletAssembly.RepositoryRoot, "docs", "json.md"));
        foreach (var name in OutputTypeNames())
            text.Should().Contain($"## {name.Split('.').Last()}", "docs/json.md documents each output type");
    }

    private static void Walk(Type type, int depth, string path, List<Type> ancestors, List<string> problems)
    {
        // The assembly is read in its own load context, where Nullable.GetUnderlyingType does not know its Nullable<T>.
        if (type.IsGenericType && type.GetGenericTypeDefinition().FullName == "System.Nullable`1")
            type = type.GetGenericArguments()[0];
        if (Scalars.Contains(type.FullName!))
            return;
        if (type.IsEnum)
        {
            if (type.GetEnumUnderlyingType().FullName is not ("System.Int64" or "System.UInt64"))
                problems.Add($"{path}: enum {type.Name} would be written as a number; back it by long so ConvertTo-Json writes its name");
            return;
        }
        if (Dictionary(type) is { } dictionary)
        {
            if (dictionary.GetGenericArguments()[0].FullName != "System.String")
                problems.Add($"{path}: a dictionary with {dictionary.GetGenericArguments()[0].Name} keys makes ConvertTo-Json fail");
            Walk(dictionary.GetGenericArguments()[1], depth + 1, path + "[key]", ancestors, problems);
            return;
        }
        if (Sequence(type) is { } element)
        {
            Walk(element, depth + 1, path + "[]", ancestors, problems);
            return;
        }
        WalkObject(type, depth, path, ancestors, problems);
    }

    private static void WalkObject(Type type, int depth, string path, List<Type> ancestors, List<string> problems)
    {
        if (type.Namespace is null || !type.Namespace.StartsWith("SparseStorage", StringComparison.Ordinal) || type.IsInterface || type.FullName == "System.Object")
        {
            problems.Add($"{path}: {type.FullName} is not a plain JSON value; ConvertTo-Json would expand its own public members");
            return;
        }
        if (ancestors.Contains(type))
        {
            problems.Add($"{path}: {type.Name} refers back to itself (a cycle)");
            return;
        }
        if (depth > Depth)
        {
            problems.Add($"{path}: {type.Name} lies below depth {Depth} and would be written as its ToString()");
            return;
        }
        ancestors.Add(type);
        foreach (var member in Members(type))
        {
            if (member.Name.EndsWith("Bytes", StringComparison.Ordinal) && member.Type.FullName != "System.Int64")
                problems.Add($"{path}.{member.Name}: a size is a number of bytes (Int64), not {member.Type.Name}");
            Walk(member.Type, depth + 1, $"{path}.{member.Name}", ancestors, problems);
        }
        ancestors.Remove(type);
    }

    private static IEnumerable<(string Name, Type Type)> Members(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Instance).Select(f => (f.Name, f.FieldType))
            .Concat(type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.GetGetMethod() is { } get && get.GetParameters().Length == 0)
                .Select(p => (p.Name, p.PropertyType)));

    private static Type? Dictionary(Type type) =>
        Generic(type, "System.Collections.Generic.IReadOnlyDictionary`2") ?? Generic(type, "System.Collections.Generic.IDictionary`2");

    private static Type? Sequence(Type type) =>
        type.IsArray ? type.GetElementType() : Generic(type, "System.Collections.Generic.IEnumerable`1")?.GetGenericArguments()[0];

    private static Type? Generic(Type type, string definition) =>
        new[] { type }.Concat(type.GetInterfaces())
            .FirstOrDefault(t => t.IsGenericType && t.GetGenericTypeDefinition().FullName == definition);

    public void Dispose() => assembly.Dispose();
}
