using SparseStorage.Core.Tests.Fuzzing;

namespace SparseStorage.Bench;

/// <summary>
/// A long run of the format fuzz test (tests/SparseStorage.Core.Tests, FormatFuzzTests): the whole sweep of extreme
/// values over the header fields of the corpus, then seeded random mutations until --fuzz-seconds are spent. Only with
/// --only fuzz. Every failure is printed with its input number and how to rebuild it.
/// </summary>
internal sealed class FuzzBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Label = "fuzz";
    private static readonly TimeSpan PerInput = TimeSpan.FromSeconds(5);

    public void Run()
    {
        var corpus = CorpusImage.Load();
        var scratch = environment.Scratch("fuzz");
        var budget = TimeSpan.FromSeconds(options.FuzzSeconds);
        var run = new FuzzRun(scratch, PerInput, maxFailures: 100);
        report.Section($"fuzz: native header readers, {corpus.Count} corpus images, seed {options.Seed}, {options.FuzzSeconds} s");
        var sweep = run.Run(HeaderMutator.Sweep(corpus), budget);
        report.Line($"sweep: {sweep}");
        var mutator = new HeaderMutator(options.Seed);
        var random = run.Run(Enumerable.Repeat(0, int.MaxValue).Select(_ => mutator.Next(corpus)), budget - sweep.Elapsed);
        report.Line($"random: {random}");
        foreach (var failure in sweep.Failures.Concat(random.Failures))
            report.Line($"FAILURE {failure}");
        report.Summary(Label, "inputs", $"{sweep.Iterations + random.Iterations:N0} in {(sweep.Elapsed + random.Elapsed).TotalSeconds:F0} s");
        report.Summary(Label, "failures", $"{sweep.Failures.Count + random.Failures.Count}", "0");
    }
}
