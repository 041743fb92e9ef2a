from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("custom_user", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="emailuser",
            name="phone",
            field=models.CharField(blank=True, max_length=32),
        ),
    ]
