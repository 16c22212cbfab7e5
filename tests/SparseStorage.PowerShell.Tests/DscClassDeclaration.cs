using System.Management.Automation.Language;

namespace SparseStorage.PowerShell.Tests;

/// <summary>
/// A [DscResource()] class as PowerShell's parser reads it: its properties with their [DscProperty(...)] arguments
/// and type, and the return types of its Get, Test and Set methods.
/// </summary>
public sealed record DscClassDeclaration(string Name, IReadOnlyList<DscPropertyDeclaration> Properties, IReadOnlyDictionary<string, string> Methods)
{
    private static readonly string[] ResourceMethods = ["Get", "Test", "Set"];

    public static IReadOnlyList<DscClassDeclaration> Parse(Ast script) =>
        script.FindAll(node => node is TypeDefinitionAst { IsClass: true } type && type.Attributes.Any(a => a.TypeName.Name == "DscResource"), searchNestedScriptBlocks: true)
            .Cast<TypeDefinitionAst>().Select(From).ToList();

    public IEnumerable<string> Keys => Properties.Where(p => p.Arguments == "Key").Select(p => p.Name);

    public IEnumerable<string> Configurable => Properties.Where(p => p.Arguments != "NotConfigurable").Select(p => p.Name);

    private static DscClassDeclaration From(TypeDefinitionAst type) => new(
        type.Name,
        type.Members.OfType<PropertyMemberAst>()
            .Select(p => (Property: p, Attribute: p.Attributes.SingleOrDefault(a => a.TypeName.Name == "DscProperty")))
            .Where(p => p.Attribute is not null)
            .Select(p => new DscPropertyDeclaration(p.Property.Name, p.Property.PropertyType?.TypeName.Name ?? "object",
                string.Join(",", p.Attribute!.NamedArguments.Select(a => a.ArgumentName))))
            .ToList(),
        type.Members.OfType<FunctionMemberAst>().Where(m => ResourceMethods.Contains(m.Name))
            .ToDictionary(m => m.Name, m => m.ReturnType?.TypeName.Name ?? "void"));
}

/// <param name="Arguments">What [DscProperty(...)] says: "", "Key", "Mandatory" or "NotConfigurable".</param>
public sealed record DscPropertyDeclaration(string Name, string Type, string Arguments);
