namespace EmStreaming.Grains.Definitions;

/// <summary>
/// Model templates bound from the <c>Models</c> section of appsettings.json: an id that no one created explicitly
/// but that starts with a template's prefix gets that template's definition on its first append, so 10,000
/// sensors need one template, not 10,000 calls.
/// </summary>
public sealed class ModelTemplateOptions
{
    public const string SectionName = "Models";

    /// <summary>Templates, matched by the longest prefix.</summary>
    public List<ModelTemplate> Templates { get; set; } = [];
}

/// <summary>One template: ids starting with <see cref="Prefix"/> get <see cref="Definition"/>.</summary>
public sealed class ModelTemplate
{
    public string Prefix { get; set; } = string.Empty;

    public ModelDefinition? Definition { get; set; }
}

/// <summary>Finds the template of an id: the longest matching prefix wins; validated once at start-up.</summary>
public sealed class ModelTemplates
{
    private readonly (string Prefix, ModelDefinition Definition)[] _byLongestPrefix;

    public ModelTemplates(ModelTemplateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        for (var i = 0; i < options.Templates.Count; i++)
        {
            var t = options.Templates[i];
            if (string.IsNullOrEmpty(t.Prefix))
            {
                throw new InvalidOperationException($"Models:Templates:{i}:Prefix must not be empty");
            }

            if (t.Definition is null)
            {
                throw new InvalidOperationException($"Models:Templates:{i}:Definition is required");
            }

            try
            {
                ModelDefinitionValidator.Validate(t.Definition);
                Models.ModelCore.EnsureBuildable(t.Definition); // a template creates models on first append: refuse one that cannot be built at start
            }
            catch (ModelValidationException e)
            {
                throw new InvalidOperationException($"Models:Templates:{i}:Definition: {e.Message}", e);
            }
        }

        var duplicate = options.Templates.GroupBy(t => t.Prefix, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Models:Templates: the prefix '{duplicate.Key}' is used twice");
        }

        _byLongestPrefix = [.. options.Templates
            .OrderByDescending(t => t.Prefix.Length)
            .Select(t => (t.Prefix, t.Definition!))];
    }

    /// <summary>The definition for <paramref name="id"/>, or null when no template matches.</summary>
    public ModelDefinition? Match(string id)
    {
        foreach (var (prefix, definition) in _byLongestPrefix)
        {
            if (id.StartsWith(prefix, StringComparison.Ordinal))
            {
                return definition;
            }
        }

        return null;
    }
}
