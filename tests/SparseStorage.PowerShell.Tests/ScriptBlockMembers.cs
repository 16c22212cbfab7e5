using System.Management.Automation.Language;

namespace SparseStorage.PowerShell.Tests;

/// <summary>What the script blocks of format and type files use of their object, read through PowerShell's parser.</summary>
public static class ScriptBlockMembers
{
    /// <summary>The members read from <c>$variable</c> (<c>$_.SizeBytes</c> gives SizeBytes).</summary>
    public static IEnumerable<string> Read(string script, string variable) =>
        Parse(script).FindAll(node => node is MemberExpressionAst { Static: false, Expression: VariableExpressionAst v } && v.VariablePath.UserPath == variable, true)
            .Cast<MemberExpressionAst>().Select(m => (m.Member as StringConstantExpressionAst)?.Value).OfType<string>();

    /// <summary>The static methods called on a type literal (<c>[SparseStorage.Core.ByteSize]::Format(…)</c>).</summary>
    public static IEnumerable<(string Type, string Method)> StaticCalls(string script) =>
        Parse(script).FindAll(node => node is InvokeMemberExpressionAst { Static: true, Expression: TypeExpressionAst, Member: StringConstantExpressionAst }, true)
            .Cast<InvokeMemberExpressionAst>().Select(m => (((TypeExpressionAst)m.Expression).TypeName.FullName, ((StringConstantExpressionAst)m.Member).Value));

    private static ScriptBlockAst Parse(string script)
    {
        var ast = Parser.ParseInput(script, out _, out var errors);
        errors.Select(e => e.Message).Should().BeEmpty($"the script block parses: {script}");
        return ast;
    }
}
