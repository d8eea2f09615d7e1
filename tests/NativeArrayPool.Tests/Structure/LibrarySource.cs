using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NativeBuffers.Tests.Structure;

/// <summary>One use of a symbol declared in another layer: <see cref="File"/>:<see cref="Line"/> in <see cref="From"/> names <see cref="Symbol"/> of <see cref="To"/>.</summary>
internal sealed record LayerReference(string From, string To, string File, int Line, string Symbol)
{
    public override string ToString() => $"{File}:{Line}: {From} -> {To} ({Symbol})";
}

/// <summary>A construct that only some layers may contain (a P/Invoke, a /proc path, a pointer), and where.</summary>
internal sealed record Construct(string Layer, string File, int Line, string What)
{
    public override string ToString() => $"{File}:{Line}: {What} in {Layer}";
}

/// <summary>
/// The library's source (src/NativeArrayPool, without obj/ and bin/) compiled with Roslyn against the running
/// runtime's assemblies, and what the semantic model says about it: which layer's symbols each layer names, and
/// where the constructs that belong to the bottom layers appear. A layer is the first folder under
/// src/NativeArrayPool; files at its root (ThrowHelper*.cs) form the layer <see cref="Root"/>.
/// </summary>
/// <remarks>
/// What counts as a use: every name in code (types, members, attributes, <c>var</c>, <c>nameof</c>, extension calls)
/// and target-typed <c>new()</c>, resolved by the semantic model to the symbol it binds to; the symbol's layer is the
/// folder of the file that declares it (of the member itself, so a member declared in another part of a partial type
/// counts where it is written). Documentation comments are not parsed: a <c>cref</c> is a link for the reader, not a
/// dependency of the code. Compiled without the source generators, so the partial methods that
/// <c>[LibraryImport]</c> generates are reported missing (CS8795); every other compiler error fails the caller, since
/// a symbol that does not bind could hide a use.
/// </remarks>
internal sealed class LibrarySource
{
    public const string Root = "(root)";

    /// <summary>Compiler errors that come only from compiling without the library's source generators.</summary>
    private static readonly ImmutableHashSet<string> GeneratorOnlyErrors = ImmutableHashSet.Create("CS8795");

    // The ImplicitUsings of an SDK library project, which the build writes to obj/ as global usings.
    private const string ImplicitUsings =
        "global using global::System; global using global::System.Collections.Generic; global using global::System.IO; " +
        "global using global::System.Linq; global using global::System.Net.Http; global using global::System.Threading; " +
        "global using global::System.Threading.Tasks;";

    private static readonly Lazy<LibrarySource> s_library = new(() => Compile(ReadLibrary()));

    private LibrarySource(CSharpCompilation compilation) => Compilation = compilation;

    /// <summary>The library as it is in this checkout, compiled once per test run.</summary>
    public static LibrarySource Library => s_library.Value;

    public CSharpCompilation Compilation { get; }

    /// <summary>Compiler errors other than those of the missing source generators (should be none).</summary>
    public IReadOnlyList<Diagnostic> Errors =>
        Compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error && !GeneratorOnlyErrors.Contains(d.Id))
            .ToList();

    /// <summary>The repository's root: the nearest folder above the test assembly that holds NativeArrayPool.sln.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NativeArrayPool.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException($"No NativeArrayPool.sln in {AppContext.BaseDirectory} or any folder above it.");
    }

    /// <summary>Every .cs file of src/NativeArrayPool outside obj/ and bin/, as (path relative to that folder with '/', text).</summary>
    public static List<(string Path, string Text)> ReadLibrary()
    {
        string folder = Path.Combine(RepositoryRoot(), "src", "NativeArrayPool");
        var files = new List<(string, string)>();
        foreach (string file in Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(folder, file).Replace(Path.DirectorySeparatorChar, '/');
            if (relative.StartsWith("obj/", StringComparison.Ordinal) || relative.StartsWith("bin/", StringComparison.Ordinal))
                continue;
            files.Add((relative, File.ReadAllText(file)));
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return files;
    }

    /// <summary>Compiles <paramref name="files"/> (paths relative to the library's folder) as the library is compiled.</summary>
    public static LibrarySource Compile(IEnumerable<(string Path, string Text)> files)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.None);
        var trees = new List<SyntaxTree> { CSharpSyntaxTree.ParseText(ImplicitUsings, parse, path: "(implicit usings)") };
        foreach ((string path, string text) in files)
            trees.Add(CSharpSyntaxTree.ParseText(text, parse, path));
        var options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true,
            nullableContextOptions: NullableContextOptions.Enable);
        return new LibrarySource(CSharpCompilation.Create("NativeArrayPool", trees, RuntimeReferences(), options));
    }

    /// <summary>The layer of a file: the first folder of its path, or <see cref="Root"/> for a file at the root.</summary>
    public static string LayerOf(string path)
    {
        int slash = path.IndexOf('/');
        return slash < 0 ? Root : path[..slash];
    }

    /// <summary>Every use, in code, of a symbol declared in a different layer than the file that uses it.</summary>
    public List<LayerReference> CrossLayerReferences()
    {
        var references = new List<LayerReference>();
        foreach (SyntaxTree tree in LibraryTrees())
        {
            string from = LayerOf(tree.FilePath);
            SemanticModel model = Compilation.GetSemanticModel(tree);
            foreach (SyntaxNode node in tree.GetRoot().DescendantNodes())
            {
                if (node is not (SimpleNameSyntax or ImplicitObjectCreationExpressionSyntax))
                    continue;
                SymbolInfo info = model.GetSymbolInfo(node);
                ISymbol? symbol = info.Symbol ?? info.CandidateSymbols.FirstOrDefault();
                foreach (string to in LayersDeclaring(symbol))
                {
                    if (to != from)
                        references.Add(new LayerReference(from, to, tree.FilePath, LineOf(node), symbol!.ToDisplayString()));
                }
            }
        }
        return references;
    }

    /// <summary>
    /// Every construct that belongs to the bottom layers: a <c>DllImport</c> or <c>LibraryImport</c>, a string that
    /// is a path under /proc, a use of <see cref="System.Runtime.InteropServices.NativeMemory"/>, and pointer code
    /// (pointer types, <c>fixed</c>, the <c>unsafe</c> modifier and block).
    /// </summary>
    public List<Construct> KernelAndPointerConstructs()
    {
        var found = new List<Construct>();
        foreach (SyntaxTree tree in LibraryTrees())
        {
            string layer = LayerOf(tree.FilePath);
            SemanticModel model = Compilation.GetSemanticModel(tree);
            void Add(SyntaxNode node, string what) => found.Add(new Construct(layer, tree.FilePath, LineOf(node), what));
            foreach (SyntaxNode node in tree.GetRoot().DescendantNodes())
            {
                switch (node)
                {
                    case AttributeSyntax attribute:
                        string? type = model.GetTypeInfo(attribute).Type?.ToDisplayString();
                        if (type is "System.Runtime.InteropServices.DllImportAttribute" or "System.Runtime.InteropServices.LibraryImportAttribute")
                            Add(node, "P/Invoke");
                        break;
                    case LiteralExpressionSyntax { RawKind: (int)SyntaxKind.StringLiteralExpression } literal
                        when literal.Token.ValueText.StartsWith("/proc", StringComparison.Ordinal):
                        Add(node, $"/proc path \"{literal.Token.ValueText}\"");
                        break;
                    case InterpolatedStringExpressionSyntax interpolated
                        when interpolated.Contents.FirstOrDefault() is InterpolatedStringTextSyntax text
                             && text.TextToken.ValueText.StartsWith("/proc", StringComparison.Ordinal):
                        Add(node, $"/proc path \"{text.TextToken.ValueText}...\"");
                        break;
                    case IdentifierNameSyntax name
                        when model.GetSymbolInfo(name).Symbol is INamedTypeSymbol { Name: "NativeMemory", ContainingNamespace: var ns }
                             && ns.ToDisplayString() == "System.Runtime.InteropServices":
                        Add(node, "NativeMemory");
                        break;
                    case PointerTypeSyntax or FunctionPointerTypeSyntax:
                        Add(node, $"pointer type {node}");
                        break;
                    case FixedStatementSyntax:
                        Add(node, "fixed statement");
                        break;
                    case UnsafeStatementSyntax:
                        Add(node, "unsafe block");
                        break;
                    case MemberDeclarationSyntax member when member.Modifiers.Any(SyntaxKind.UnsafeKeyword):
                        Add(node, "unsafe member");
                        break;
                    case LocalFunctionStatementSyntax local when local.Modifiers.Any(SyntaxKind.UnsafeKeyword):
                        Add(node, "unsafe local function");
                        break;
                }
            }
        }
        return found;
    }

    private IEnumerable<SyntaxTree> LibraryTrees() => Compilation.SyntaxTrees.Where(t => t.FilePath != "(implicit usings)");

    /// <summary>The layers of the files that declare <paramref name="symbol"/>; none for a symbol outside the library or with no layer (locals, namespaces).</summary>
    private static IEnumerable<string> LayersDeclaring(ISymbol? symbol)
    {
        if (symbol is IMethodSymbol { ReducedFrom: { } extension })
            symbol = extension;
        symbol = symbol?.OriginalDefinition;
        if (symbol is null or INamespaceSymbol or ILocalSymbol or IParameterSymbol or ILabelSymbol or IRangeVariableSymbol
            or ITypeParameterSymbol or IDiscardSymbol)
            return [];
        return symbol.Locations
            .Where(l => l.IsInSource && l.SourceTree!.FilePath != "(implicit usings)")
            .Select(l => LayerOf(l.SourceTree!.FilePath))
            .Distinct();
    }

    private static int LineOf(SyntaxNode node) => node.GetLocation().GetLineSpan().StartLinePosition.Line + 1;

    /// <summary>
    /// The running runtime's own assemblies (from the trusted-platform-assemblies list, limited to the runtime's
    /// folder, so the library's compiled copy and the test's packages are left out), which is what the library
    /// compiles against.
    /// </summary>
    private static List<MetadataReference> RuntimeReferences()
    {
        string runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => string.Equals(Path.GetDirectoryName(path), runtime, StringComparison.OrdinalIgnoreCase))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToList();
    }
}
