using System.Management.Automation.Language;

namespace SparseStorage.PowerShell.Tests;

/// <summary>One command invocation found in a script: its name and the parameter names given to it.</summary>
public sealed record CommandUse(string File, int Line, string Command, IReadOnlyList<string> Parameters)
{
    public override string ToString() => $"{File}:{Line}: {Command}";
}

/// <summary>What PowerShell's own parser finds in a script: the commands it calls, the functions it defines, its syntax errors.</summary>
public sealed record ScriptScan(IReadOnlyList<CommandUse> Uses, IReadOnlySet<string> Functions, IReadOnlyList<string> Errors);

/// <summary>
/// Finds every command invocation with a static name (not <c>&amp; $block</c>) in a script through the PowerShell
/// parser's AST, with the <c>-Name</c> parameters given to it, including commands in script blocks and in the
/// subexpressions of expandable strings. Plain strings stay strings: commands quoted for a child pwsh are not seen.
/// </summary>
public static class ScriptCommandScanner
{
    public static ScriptScan Scan(string file, string source)
    {
        var ast = Parser.ParseInput(source, file, out _, out var errors);
        return From(file, ast, errors);
    }

    public static ScriptScan ScanFile(string path, string shownAs)
    {
        var ast = Parser.ParseFile(path, out _, out var errors);
        return From(shownAs, ast, errors);
    }

    private static ScriptScan From(string file, ScriptBlockAst ast, ParseError[] errors)
    {
        var uses = ast.FindAll(node => node is CommandAst, searchNestedScriptBlocks: true).Cast<CommandAst>()
            .Where(command => command.GetCommandName() is not null)
            .Select(command => new CommandUse(file, command.Extent.StartLineNumber, command.GetCommandName(),
                command.CommandElements.OfType<CommandParameterAst>().Select(p => p.ParameterName).ToList()))
            .ToList();
        var functions = ast.FindAll(node => node is FunctionDefinitionAst, searchNestedScriptBlocks: true)
            .Cast<FunctionDefinitionAst>().Select(f => f.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new ScriptScan(uses, functions, errors.Select(e => $"{file}:{e.Extent.StartLineNumber}: {e.Message}").ToList());
    }
}
