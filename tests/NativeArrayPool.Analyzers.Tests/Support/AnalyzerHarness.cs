using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace NativeBuffers.Analyzers.Tests.Support;

/// <summary>
/// Compiles a C# snippet against the running runtime's assemblies and NativeArrayPool, runs <see cref="LeaseAnalyzer"/>
/// on it, and compares the diagnostics with the ones the snippet expects: a line that should get one ends with a
/// comment naming the ids (<c>// NAP001</c>, <c>// NAP002 NAP003</c>).
/// </summary>
internal static partial class AnalyzerHarness
{
    /// <summary>What every snippet compiles against; <see cref="CodeFixHarness"/> builds its workspace on them too.</summary>
    internal static readonly ImmutableArray<MetadataReference> References = LoadReferences();

    /// <summary>Asserts that the analyzer reports exactly the diagnostics the snippet's comments name, on those lines.</summary>
    public static void Verify(string source, OutputKind kind = OutputKind.DynamicallyLinkedLibrary)
    {
        var expected = Expected(source);
        var actual = Analyze(source, kind)
            .Select(d => (d.Id, Line: d.Location.GetLineSpan().StartLinePosition.Line + 1))
            .ToHashSet();
        var missing = expected.Except(actual).OrderBy(e => e.Line).ToList();
        var unexpected = actual.Except(expected).OrderBy(e => e.Line).ToList();
        Assert.True(missing.Count == 0 && unexpected.Count == 0,
            $"missing: [{string.Join(", ", missing)}]; unexpected: [{string.Join(", ", unexpected)}]");
    }

    /// <summary>The analyzer's diagnostics for <paramref name="source"/>; fails if the snippet does not compile.</summary>
    public static ImmutableArray<Diagnostic> Analyze(string source, OutputKind kind)
    {
        var tree = CSharpSyntaxTree.ParseText(source, ParseOptions, path: "Snippet.cs");
        return Analyze(CSharpCompilation.Create("Snippet", [tree], References, CompilationOptions(kind)));
    }

    /// <summary>The analyzer's diagnostics for <paramref name="compilation"/>; fails if it does not compile.</summary>
    public static ImmutableArray<Diagnostic> Analyze(Compilation compilation)
    {
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "the snippet does not compile: " + string.Join("; ", errors));
        var withAnalyzer = compilation.WithAnalyzers([new LeaseAnalyzer()]);
        var analyzerErrors = withAnalyzer.GetAnalyzerDiagnosticsAsync().Result;
        var failures = analyzerErrors.Where(d => d.Id == "AD0001").ToList();
        Assert.True(failures.Count == 0, "the analyzer threw: " + string.Join("; ", failures));
        return analyzerErrors;
    }

    internal static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    internal static CSharpCompilationOptions CompilationOptions(OutputKind kind) =>
        new(kind, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable);

    private static HashSet<(string Id, int Line)> Expected(string source)
    {
        var expected = new HashSet<(string, int)>();
        string[] lines = source.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            Match comment = ExpectedIds().Match(lines[i]);
            if (!comment.Success)
                continue;
            foreach (Capture id in comment.Groups["id"].Captures)
                expected.Add((id.Value, i + 1));
        }
        return expected;
    }

    [GeneratedRegex(@"//(\s+(?<id>NAP\d{3}))+\s*$")]
    private static partial Regex ExpectedIds();

    /// <summary>The runtime's own assemblies (what `dotnet` runs the tests on) plus NativeArrayPool.</summary>
    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        string runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        return Directory.GetFiles(runtime, "*.dll")
            .Where(IsManagedAssembly)
            .Append(typeof(NativeArrayPool<>).Assembly.Location)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToImmutableArray();
    }

    private static bool IsManagedAssembly(string path)
    {
        try
        {
            System.Reflection.AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
