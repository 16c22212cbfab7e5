using System.Text;

namespace SparseStorage.Bench;

/// <summary>Prints each benchmark's figures as they come, keeps them, and writes the summary and the results file.</summary>
internal sealed class Report
{
    private readonly List<(string Section, List<string> Lines)> sections = [];
    private readonly List<(string Benchmark, string Figure, string Value, string Target)> summary = [];
    private readonly DateTime started = DateTime.Now;

    public void Section(string title)
    {
        Console.WriteLine();
        Console.WriteLine($"== {title}");
        sections.Add((title, []));
    }

    public void Line(string text)
    {
        Console.WriteLine("  " + text);
        sections[^1].Lines.Add(text);
    }

    public void Summary(string benchmark, string figure, string value, string target = "") =>
        summary.Add((benchmark, figure, value, target));

    /// <summary>A summary row of a cold / warm ratio pair and whether each meets its target.</summary>
    public void RatioRow(string benchmark, string figure, (double Cold, double Warm) ratio, string target, Func<double, bool> met)
    {
        var verdict = met(ratio.Cold) && met(ratio.Warm) ? "met"
            : $"{(met(ratio.Cold) ? "met" : "NOT met")} cold, {(met(ratio.Warm) ? "met" : "NOT met")} warm";
        Summary(benchmark, figure, $"{Stats.Ratio(ratio.Cold)} / {Stats.Ratio(ratio.Warm)}", $"{target}: {verdict}");
    }

    public void PrintSummary()
    {
        Console.WriteLine();
        Console.WriteLine("== Summary");
        var width = summary.Select(r => $"{r.Benchmark} / {r.Figure}".Length).DefaultIfEmpty(0).Max();
        foreach (var row in summary)
            Console.WriteLine($"  {$"{row.Benchmark} / {row.Figure}".PadRight(width)}  {row.Value}{(row.Target.Length > 0 ? $"   [{row.Target}]" : "")}");
    }

    /// <summary>Writes bench/results/&lt;yyyy-MM-dd-HHmm&gt;&lt;suffix&gt;.md and returns its path.</summary>
    public string Write(string directory, IEnumerable<string> machine, string suffix = "")
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{started:yyyy-MM-dd-HHmm}{suffix}.md");
        File.WriteAllText(path, Markdown(machine));
        return path;
    }

    private string Markdown(IEnumerable<string> machine)
    {
        var text = new StringBuilder($"# SparseStorage bench, {started:yyyy-MM-dd HH:mm}\n\n");
        foreach (var fact in machine)
            text.Append($"- {fact}\n");
        text.Append("\n## Summary\n\n| benchmark | figure | value | target |\n| --- | --- | --- | --- |\n");
        foreach (var row in summary)
            text.Append($"| {row.Benchmark} | {row.Figure} | {row.Value} | {row.Target} |\n");
        foreach (var (title, lines) in sections)
            text.Append($"\n## {title}\n\n```\n{string.Join('\n', lines)}\n```\n");
        return text.ToString();
    }
}
