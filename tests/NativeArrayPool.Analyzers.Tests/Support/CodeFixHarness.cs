using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Text;
using NativeBuffers.Analyzers.CodeFixes;

namespace NativeBuffers.Analyzers.Tests.Support;

/// <summary>
/// Applies <see cref="ReturnInFinallyCodeFix"/> the way an IDE does: the snippet is a document of a workspace, the
/// analyzer reports its one NAP001, the provider registers its actions for it, and the first action's operations
/// change the solution. The fixed text must be the expected one, and the analyzer must find nothing in it.
/// </summary>
internal static class CodeFixHarness
{
    /// <summary>Asserts that the fix turns <paramref name="source"/> into <paramref name="expected"/>, which then compiles without NAP diagnostics.</summary>
    public static async Task VerifyFix(string source, string expected)
    {
        (Document document, IReadOnlyList<CodeAction> actions) = await FixesFor(source);
        Assert.NotEmpty(actions);
        var changes = (await actions[0].GetOperationsAsync(CancellationToken.None)).OfType<ApplyChangesOperation>().Single();
        Document fixedDocument = changes.ChangedSolution.GetDocument(document.Id)!;
        string text = (await fixedDocument.GetTextAsync()).ToString();
        Assert.Equal(expected, text);

        Compilation? compilation = await fixedDocument.Project.GetCompilationAsync();
        var left = AnalyzerHarness.Analyze(compilation!);
        Assert.True(left.IsEmpty, "the fixed code still draws: " + string.Join("; ", left));
    }

    /// <summary>Asserts that the analyzer reports a leak in <paramref name="source"/> and the provider offers no fix for it.</summary>
    public static async Task VerifyNoFix(string source)
    {
        (_, IReadOnlyList<CodeAction> actions) = await FixesFor(source);
        Assert.Empty(actions);
    }

    private static async Task<(Document Document, IReadOnlyList<CodeAction> Actions)> FixesFor(string source)
    {
        var workspace = new AdhocWorkspace();
        var projectId = ProjectId.CreateNewId();
        var documentId = DocumentId.CreateNewId(projectId);
        Solution solution = workspace.CurrentSolution
            .AddProject(ProjectInfo.Create(
                projectId, VersionStamp.Default, "Snippet", "Snippet", LanguageNames.CSharp,
                compilationOptions: AnalyzerHarness.CompilationOptions(OutputKind.DynamicallyLinkedLibrary),
                parseOptions: AnalyzerHarness.ParseOptions,
                metadataReferences: AnalyzerHarness.References))
            .AddDocument(documentId, "Snippet.cs", SourceText.From(source));
        Document document = solution.GetDocument(documentId)!;

        Compilation? compilation = await document.Project.GetCompilationAsync();
        Diagnostic leak = Assert.Single(AnalyzerHarness.Analyze(compilation!), d => d.Id == "NAP001");

        var actions = new List<CodeAction>();
        var context = new CodeFixContext(document, leak, (action, _) => actions.Add(action), CancellationToken.None);
        await new ReturnInFinallyCodeFix().RegisterCodeFixesAsync(context);
        return (document, actions);
    }
}
