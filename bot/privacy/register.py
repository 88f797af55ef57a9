"""The processing-register entry (registre des traitements, RGPD article 30), as Markdown.

``python -m bot privacy-register`` writes it from the actual settings (controller, DPO,
retention periods) and from the tables' policies: every table that holds something of a
person has a line in :data:`DATA_CATEGORIES` (a test fails otherwise), so the register
follows the schema as export and erasure do.
"""

from __future__ import annotations

from typing import Final

from bot.config import Settings
from bot.privacy.coverage import POLICIES, NoPerson

#: what each table holding personal data holds, in the register's words (French: the
#: register is an administrative document of a French public body)
DATA_CATEGORIES: Final[dict[str, str]] = {
    "users": "identifiant Telegram, prénom, langue, bibliothèque, rôle, dates de première "
    "et de dernière activité",
    "person_state": "brouillons et saisies en cours (formulaires, remarques)",
    "conversation_states": "étape en cours d'un formulaire",
    "subscriptions": "annonces choisies (types de médias, événements, actualités)",
    "announcements": "auteur (agent) d'une annonce",
    "handover_questions": "questions transmises aux bibliothécaires (coordonnées masquées) "
    "et leurs réponses",
    "handover_messages": "messages échangés entre un usager et un bibliothécaire sur une "
    "question transmise",
    "feedback": "votes, notes, remarques (coordonnées masquées), accord pour être recontacté",
    "registrations": "inscriptions aux ateliers, liste d'attente, présence",
    "reminders": "rappels d'atelier et demandes d'avis planifiés",
    "usage_actors": "lien entre la personne et son numéro statistique aléatoire",
    "usage_events": "événements d'usage sans identifiant (numéro aléatoire) ; texte des "
    "questions (coordonnées masquées)",
    "outbox": "messages envoyés par Plume à la personne ou la concernant",
    "audit_log": "accès des agents aux données des personnes (pseudonymes)",
    "contact_threads": "mise en relation d'un coordinateur et d'un usager par Plume "
    "(aucun message conservé)",
}


def personal_tables() -> list[str]:
    return sorted(name for name, policy in POLICIES.items() if not isinstance(policy, NoPerson))


def _days(days: int) -> str:
    return f"{days} jour" if days == 1 else f"{days} jours"


def register_markdown(settings: Settings) -> str:
    """The register entry, in French, from the settings."""
    tables = "\n".join(f"| `{name}` | {DATA_CATEGORIES[name]} |" for name in personal_tables())
    periods = "\n".join(
        f"| {what} | {how_long} |"
        for what, how_long in (
            (
                "compte de l'usager et tout ce qui s'y rattache",
                f"{_days(settings.retention_days)} après sa dernière activité "
                "(effacement quotidien automatique)",
            ),
            (
                "texte des questions restées sans réponse, questions non transmises",
                _days(settings.question_text_days),
            ),
            (
                "lien entre une inscription à un atelier (et la présence) et la personne",
                f"{_days(settings.registration_days)} après l'atelier",
            ),
            ("statistiques", "agrégées, sans lien avec les personnes (durée illimitée)"),
            (
                "journal des accès des agents",
                "conservé avec le traitement ; les personnes y figurent sous pseudonyme",
            ),
        )
    )
    title = "Registre des traitements — Plume, assistant conversationnel de la bibliothèque"
    return f"""# {title}

| | |
|---|---|
| Traitement | Plume : assistant Telegram du réseau « {settings.network_name} » |
| Responsable du traitement | {settings.controller_name} |
| Délégué à la protection des données | {settings.dpo_contact} |
| Base légale | mission d'intérêt public (service public de la lecture, RGPD art. 6.1.e) |

## Finalités

- répondre aux questions des usagers sur l'offre numérique et les transmettre aux
  bibliothécaires à leur demande ;
- gérer les inscriptions aux ateliers, les listes d'attente, les rappels et les présences ;
- envoyer les annonces que chaque usager a choisies ;
- produire des statistiques agrégées et le rapport d'évaluation (aucune donnée
  individuelle).

## Personnes concernées

Usagers des bibliothèques du réseau qui écrivent à Plume ; agents des bibliothèques
(rôles bibliothécaire, coordinateur, administrateur).

## Catégories de données, table par table

| table | données |
|---|---|
{tables}

Aucune donnée sensible n'est demandée. Les numéros de téléphone, adresses e-mail et
postales et numéros de carte tapés dans une question ou une remarque sont masqués avant
tout enregistrement.

## Destinataires

Les agents habilités des bibliothèques du réseau, selon leur rôle, sous pseudonyme (jamais
l'identifiant Telegram) ; Telegram (messagerie) comme moyen d'acheminement des messages.
Aucune cession, aucune publicité. Le rapport d'évaluation ne contient que des agrégats.

## Durées de conservation

| donnée | durée |
|---|---|
{periods}

## Droits des personnes

Accès et portabilité : commande `/mes_donnees` (fichier JSON de toutes les données).
Effacement : commande `/oublier` (immédiat et irréversible), ou sur demande auprès d'un
administrateur (`/effacer <pseudonyme>`, `python -m bot forget --user ID`). Rectification :
`/settings`. Opposition, limitation : {settings.dpo_contact}. Réclamation : CNIL.
L'information est donnée au premier contact (`/start`) et par `/confidentialite`.

## Mesures de sécurité

- pseudonymisation : les agents voient un pseudonyme (U17), jamais l'identifiant Telegram ;
  les statistiques ne portent qu'un numéro aléatoire, dont le lien est effacé avec la
  personne ;
- minimisation : masquage des coordonnées dans les textes libres, effacements
  automatiques selon les durées ci-dessus ;
- journal d'audit de chaque accès d'un agent aux données d'une personne (`python -m bot
  audit`) ;
- contrôle d'accès par rôles ; secret du webhook vérifié à chaque requête ; le jeton du bot
  n'apparaît dans aucun journal ; les erreurs sont journalisées sans nom ni texte ;
- base de données chiffrée en transit (TLS) selon l'hébergement ; bac à sable local sur
  127.0.0.1.
"""
