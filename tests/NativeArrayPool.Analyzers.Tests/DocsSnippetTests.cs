using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>
/// The C# snippets of README.md and docs/*.md draw no NAP diagnostic but the ones they mark (the bug examples of
/// docs/analyzers.md end their line with the id). Snippets are fragments (a `stream` or `order` they never declare),
/// so each is compiled as top-level statements and analysed whatever the compiler thinks of the rest; a snippet that
/// names `pool` (of its leases' element type) or `stream` without declaring it gets one, and every snippet gets the helpers the bug examples call.
/// The analyzer must not throw on any of them.
/// </summary>
public partial class DocsSnippetTests
{
    [Fact]
    public async Task Every_snippet_of_the_docs_draws_only_the_diagnostics_it_marks()
    {
        string root = RepositoryRoot();
        var files = Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Append(Path.Combine(root, "README.md"));
        var problems = new List<string>();
        int snippets = 0;
        var markedFound = new List<string>();
        foreach (string file in files)
        {
            foreach (Match block in CSharpBlock().Matches(File.ReadAllText(file)))
            {
                snippets++;
                string code = block.Groups["code"].Value;
                string prefix = "using System; using System.Buffers; using System.IO; using System.Threading.Tasks; using NativeBuffers;\n";
                if (Regex.IsMatch(code, @"\bpool\.") && !Regex.IsMatch(code, @"\bpool\s*="))
                    prefix += $"var pool = NativeArrayPool<{ElementType(code)}>.Shared;\n";
                if (Regex.IsMatch(code, @"\bstream\.") && !Regex.IsMatch(code, @"\bstream\s*="))
                    prefix += "Stream stream = Stream.Null;\n";
                // The helpers the bug examples of docs/analyzers.md call: a call that does not bind would count as
                // handing the lease off, and hide the bug.
                prefix += "static void Fill<T>(Span<T> s) { } static void Work<T>(Span<T> s) { } static void Process<T>(Span<T> s) { }\n";
                var tree = CSharpSyntaxTree.ParseText(prefix + code, AnalyzerHarness.ParseOptions, path: "Snippet.cs");
                var compilation = CSharpCompilation.Create(
                    "Snippet", [tree], AnalyzerHarness.References, AnalyzerHarness.CompilationOptions(OutputKind.ConsoleApplication));
                var diagnostics = await compilation.WithAnalyzers([new LeaseAnalyzer()]).GetAnalyzerDiagnosticsAsync();
                string[] lines = (prefix + code).Split('\n');
                foreach (Diagnostic diagnostic in diagnostics)
                {
                    int line = diagnostic.Location.GetLineSpan().StartLinePosition.Line;
                    bool marked = diagnostic.Id.StartsWith("NAP", StringComparison.Ordinal) &&
                                  Regex.IsMatch(lines[line], @"//(\s+NAP\d{3})*\s+" + diagnostic.Id + @"(\s+NAP\d{3})*\s*$");
                    if (marked)
                        markedFound.Add(diagnostic.Id);
                    else
                        problems.Add($"{Path.GetFileName(file)}: {diagnostic} in:\n{lines[line]}");
                }
            }
        }
        Assert.True(snippets > 20, $"found only {snippets} snippets: the docs moved?");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // Every bug example of docs/analyzers.md is found, so the analyzer did run on the snippets.
        Assert.Equal(["NAP001", "NAP002", "NAP003", "NAP004", "NAP005"], markedFound.Order());
    }

    /// <summary>The element type of the snippet's first NativeBuffer, for the pool it is given.</summary>
    private static string ElementType(string code)
    {
        Match lease = Regex.Match(code, @"NativeBuffer<(?<type>\w+)>");
        return lease.Success ? lease.Groups["type"].Value : "byte";
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NativeArrayPool.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException("NativeArrayPool.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"```csharp\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
