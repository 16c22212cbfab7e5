namespace SparseStorage.Bench;

/// <summary>
/// The command line: --volumes N, --only listing|create|resize|copy|backup|aoe|module|fuzz|cephbackup|cephlist|cephmount,
/// --keep, --base DIR, --repeats N, --results DIR, --fuzz-seconds N, --seed N, --ceph-images N, --ceph-mib N.
/// </summary>
internal sealed record BenchOptions
{
    public const string Usage =
        "usage: bench/run.sh [--volumes N] [--only listing|create|resize|copy|backup|encryption|aoe|module] [--keep] [--base DIR] [--repeats N] [--results DIR]\n" +
        "       bench/run.sh --only fuzz [--fuzz-seconds N] [--seed N]\n" +
        "       bench/run.sh --only cephbackup | --only cephlist [--ceph-images N] | --only cephmount [--ceph-mib N]";

    public int Volumes { get; init; } = 10_000;
    public string? Only { get; init; }
    public bool Keep { get; init; }
    public string BaseDirectory { get; init; } = "/var/tmp";
    public int Repeats { get; init; } = 20;
    public string? ResultsDirectory { get; init; }
    public int FuzzSeconds { get; init; } = 600;
    public int Seed { get; init; } = 16;

    /// <summary>RBD images in the pool of --only cephlist.</summary>
    public int CephImages { get; init; } = 1000;

    /// <summary>MiB written and read sequentially by --only cephmount, by dd and by rbd bench alike.</summary>
    public int CephStreamMiB { get; init; } = 512;

    /// <summary>The longest the qemu-img side of the listing may take before it is sampled and extrapolated.</summary>
    public TimeSpan QemuBudget { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Timed runs per contender in the copy benchmark: 3, or fewer when --repeats is smaller.</summary>
    public int CopyRuns => Math.Min(Repeats, 3);

    /// <summary>
    /// Whether a benchmark runs: all but fuzz and the Ceph ones when no --only is given (fuzz is a long run of a test,
    /// not a comparison; the Ceph benchmarks each bring up a cluster and need its packages).
    /// </summary>
    public bool Runs(string benchmark) => Only == benchmark || Only is null && benchmark is not ("fuzz" or "cephbackup" or "cephlist" or "cephmount");

    /// <summary>What the results file name ends with: "-copy" for --only copy, nothing when everything runs.</summary>
    public string ResultsSuffix => Only is null ? "" : "-" + Only;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
            options = args[i] switch
            {
                "--volumes" => options with { Volumes = PositiveInt(Value(args, ref i), "--volumes") },
                "--only" => options with { Only = Benchmark(Value(args, ref i)) },
                "--keep" => options with { Keep = true },
                "--base" => options with { BaseDirectory = Value(args, ref i) },
                "--repeats" => options with { Repeats = PositiveInt(Value(args, ref i), "--repeats") },
                "--results" => options with { ResultsDirectory = Value(args, ref i) },
                "--fuzz-seconds" => options with { FuzzSeconds = PositiveInt(Value(args, ref i), "--fuzz-seconds") },
                "--seed" => options with { Seed = PositiveInt(Value(args, ref i), "--seed") },
                "--ceph-images" => options with { CephImages = PositiveInt(Value(args, ref i), "--ceph-images") },
                "--ceph-mib" => options with { CephStreamMiB = PositiveInt(Value(args, ref i), "--ceph-mib") },
                _ => throw new ArgumentException($"unknown option '{args[i]}'"),
            };
        return options;
    }

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");

    private static int PositiveInt(string text, string option) =>
        int.TryParse(text, out var value) && value > 0 ? value : throw new ArgumentException($"{option} needs a positive number, not '{text}'");

    private static string Benchmark(string text) =>
        text is "listing" or "create" or "resize" or "copy" or "backup" or "encryption" or "aoe" or "module" or "fuzz" or "cephbackup" or "cephlist" or "cephmount" ? text
            : throw new ArgumentException($"--only takes listing, create, resize, copy, backup, encryption, aoe, module, fuzz, cephbackup, cephlist or cephmount, not '{text}'");
}
