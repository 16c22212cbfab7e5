namespace SparseStorage.Packager;

/// <summary>
/// The module's own build step. Commands:
///   help --docs &lt;dir&gt; --out &lt;file&gt;
///   assemble --root &lt;repo&gt; --configuration &lt;Debug|Release&gt; --out &lt;dir&gt;
/// </summary>
public static class Program
{
    private const string Usage = """
        usage:
          SparseStorage.Packager help --docs <dir> --out <file>
          SparseStorage.Packager assemble --root <repo> --configuration <Debug|Release> --out <dir>
        """;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <returns>0 on success, 1 when an input is missing or malformed, 2 on a usage error.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            return args.FirstOrDefault() switch
            {
                "help" => Help(Options(args, "--docs", "--out"), output),
                "assemble" => Assemble(Options(args, "--root", "--configuration", "--out"), output, error),
                _ => throw new UsageException(args.Length == 0 ? "no command given" : $"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException e)
        {
            error.WriteLine($"packager: {e.Message}");
            error.WriteLine(Usage);
            return 2;
        }
        catch (PackagerException e)
        {
            error.WriteLine($"packager: {e.Message}");
            return 1;
        }
    }

    private static int Help(Dictionary<string, string> options, TextWriter output)
    {
        var pages = MamlWriter.ConvertDirectory(options["--docs"], options["--out"]);
        output.WriteLine($"Wrote help for {pages.Count} cmdlets to {Path.GetFullPath(options["--out"])}");
        return 0;
    }

    private static int Assemble(Dictionary<string, string> options, TextWriter output, TextWriter error)
    {
        foreach (var module in ModuleAssembler.Assemble(options["--root"], options["--configuration"], options["--out"], error))
            output.WriteLine($"Assembled {module.Name} {module.Version} in {module.Folder} ({module.FileCount} files)");
        return 0;
    }

    /// <summary>Reads '--name value' pairs after the command; every name in <paramref name="required"/> must be there, and nothing else.</summary>
    private static Dictionary<string, string> Options(string[] args, params string[] required)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i += 2)
        {
            if (!required.Contains(args[i]))
                throw new UsageException($"unknown option '{args[i]}' for '{args[0]}'");
            if (i + 1 >= args.Length)
                throw new UsageException($"option '{args[i]}' needs a value");
            options[args[i]] = args[i + 1];
        }
        var missing = required.FirstOrDefault(r => !options.ContainsKey(r));
        return missing is null ? options : throw new UsageException($"'{args[0]}' needs {missing} <value>");
    }

    private sealed class UsageException(string message) : Exception(message);
}
